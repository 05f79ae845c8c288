package pdu

import (
	"encoding/binary"
	"errors"
)

// AHS types (RFC 7143 §11.2.1.2).
const (
	AHSExtendedCDB = 1
	AHSBidiReadLen = 2
)

// MaxAHSLength is the largest AHS area: TotalAHSLength is one byte of 4-byte words.
const MaxAHSLength = 255 * 4

// ErrBadAHS reports a malformed Additional Header Segment.
var ErrBadAHS = errors.New("pdu: malformed AHS")

// AHSIter walks the AHS entries of a PDU without allocating.
type AHSIter struct {
	b    []byte
	typ  uint8
	data []byte
	err  error
}

// NewAHSIter iterates over the AHS bytes b.
func NewAHSIter(b []byte) AHSIter { return AHSIter{b: b} }

// Next advances to the next AHS; it returns false at the end or on a malformed entry (see Err).
func (it *AHSIter) Next() bool {
	if len(it.b) == 0 || it.err != nil {
		return false
	}
	if len(it.b) < 4 {
		it.err = ErrBadAHS
		return false
	}
	n := int(binary.BigEndian.Uint16(it.b))
	// AHSLength counts the bytes after the type byte's reserved byte, excluding padding.
	total := 3 + n + Pad(3+n)
	if n == 0 || total > len(it.b) {
		it.err = ErrBadAHS
		return false
	}
	it.typ = it.b[2]
	it.data = it.b[3 : 3+n]
	it.b = it.b[total:]
	return true
}

// Type is the current entry's AHSType.
func (it *AHSIter) Type() uint8 { return it.typ }

// Data is the current entry's AHS-Specific bytes (for the extended CDB the first byte is reserved).
func (it *AHSIter) Data() []byte { return it.data }

// Err reports a malformed AHS area.
func (it *AHSIter) Err() error { return it.err }

// AppendAHS appends one AHS entry with its padding.
func AppendAHS(dst []byte, typ uint8, specific []byte) []byte {
	n := len(specific)
	dst = append(dst, byte(n>>8), byte(n), typ)
	dst = append(dst, specific...)
	return append(dst, zeroPad[:Pad(3+n)]...)
}
