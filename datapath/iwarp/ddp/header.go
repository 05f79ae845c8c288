package ddp

import (
	"encoding/binary"
	"errors"
)

const (
	TaggedHeaderLen   = 14
	UntaggedHeaderLen = 18
	Version           = 1

	flagTagged = 0x80
	flagLast   = 0x40
	maskRsvd   = 0x3c
	maskDV     = 0x03
)

// Untagged queue numbers used by RDMAP (RFC 5040 §5.1).
const (
	QNSend        = 0
	QNReadRequest = 1
	QNTerminate   = 2
)

// Errors a decoder reports.
var (
	ErrShort   = errors.New("ddp: segment shorter than its header")
	ErrVersion = errors.New("ddp: invalid DDP version")
)

// Header is a view of a DDP segment (tagged or untagged) starting at its control field.
type Header []byte

// HeaderLen returns the header length implied by the first octet of a segment.
func HeaderLen(ctrl byte) int {
	if ctrl&flagTagged != 0 {
		return TaggedHeaderLen
	}
	return UntaggedHeaderLen
}

// Parse checks the length and version of seg and returns the header view and the payload.
func Parse(seg []byte) (Header, []byte, error) {
	if len(seg) < 1 {
		return nil, nil, ErrShort
	}
	n := HeaderLen(seg[0])
	if len(seg) < n {
		return nil, nil, ErrShort
	}
	h := Header(seg[:n])
	if h.Version() != Version {
		return h, seg[n:], ErrVersion
	}
	return h, seg[n:], nil
}

func (h Header) Tagged() bool   { return h[0]&flagTagged != 0 }
func (h Header) Last() bool     { return h[0]&flagLast != 0 }
func (h Header) Version() uint8 { return h[0] & maskDV }

// ULPCtrl is the first RsvdULP octet (the RDMAP control field).
func (h Header) ULPCtrl() byte { return h[1] }

// STag and TO are valid for tagged headers.
func (h Header) STag() uint32 { return binary.BigEndian.Uint32(h[2:6]) }
func (h Header) TO() uint64   { return binary.BigEndian.Uint64(h[6:14]) }

// ULP32 (RsvdULP octets 2..5), QN, MSN and MO are valid for untagged headers.
func (h Header) ULP32() uint32 { return binary.BigEndian.Uint32(h[2:6]) }
func (h Header) QN() uint32    { return binary.BigEndian.Uint32(h[6:10]) }
func (h Header) MSN() uint32   { return binary.BigEndian.Uint32(h[10:14]) }
func (h Header) MO() uint32    { return binary.BigEndian.Uint32(h[14:18]) }

func ctrl(tagged, last bool) byte {
	c := byte(Version)
	if tagged {
		c |= flagTagged
	}
	if last {
		c |= flagLast
	}
	return c
}

// AppendTagged appends a tagged header.
func AppendTagged(dst []byte, last bool, ulpCtrl byte, stag uint32, to uint64) []byte {
	dst = append(dst, ctrl(true, last), ulpCtrl)
	dst = binary.BigEndian.AppendUint32(dst, stag)
	return binary.BigEndian.AppendUint64(dst, to)
}

// AppendUntagged appends an untagged header.
func AppendUntagged(dst []byte, last bool, ulpCtrl byte, ulp32, qn, msn, mo uint32) []byte {
	dst = append(dst, ctrl(false, last), ulpCtrl)
	dst = binary.BigEndian.AppendUint32(dst, ulp32)
	dst = binary.BigEndian.AppendUint32(dst, qn)
	dst = binary.BigEndian.AppendUint32(dst, msn)
	return binary.BigEndian.AppendUint32(dst, mo)
}
