package rdmap

import (
	"encoding/binary"
	"errors"
)

// Opcode is an RDMAP message type (RFC 5040 §4.3).
type Opcode uint8

const (
	OpWrite         Opcode = 0x0
	OpReadRequest   Opcode = 0x1
	OpReadResponse  Opcode = 0x2
	OpSend          Opcode = 0x3
	OpSendInv       Opcode = 0x4
	OpSendSE        Opcode = 0x5
	OpSendSEInv     Opcode = 0x6
	OpTerminate     Opcode = 0x7
	Version                = 1
	ReadRequestLen         = 28
	TermCtrlLen            = 4
	TermSegLenLen          = 2
	maxTerminateLen        = TermCtrlLen + TermSegLenLen + 18 + ReadRequestLen
)

// MaxTerminateLen bounds the Terminate header and its optional parts.
const MaxTerminateLen = maxTerminateLen

var (
	ErrVersion = errors.New("rdmap: invalid RDMAP version")
	ErrOpcode  = errors.New("rdmap: unexpected opcode")
	ErrShort   = errors.New("rdmap: header too short")
)

// Ctrl builds the RDMAP control octet (RV=1, reserved 0, opcode).
func Ctrl(op Opcode) byte { return Version<<6 | byte(op) }

// CtrlOpcode and CtrlVersion decode the control octet.
func CtrlOpcode(c byte) Opcode { return Opcode(c & 0x0f) }
func CtrlVersion(c byte) uint8 { return c >> 6 }

// Tagged reports whether op uses the tagged buffer model.
func (op Opcode) Tagged() bool { return op == OpWrite || op == OpReadResponse }

// IsSend reports one of the four Send variants.
func (op Opcode) IsSend() bool { return op >= OpSend && op <= OpSendSEInv }

// Invalidates reports Send with Invalidate (with or without SE).
func (op Opcode) Invalidates() bool { return op == OpSendInv || op == OpSendSEInv }

// Solicited reports Send with Solicited Event (with or without Invalidate).
func (op Opcode) Solicited() bool { return op == OpSendSE || op == OpSendSEInv }

// QN returns the untagged queue an opcode uses, and false for tagged or unknown opcodes.
func (op Opcode) QN() (uint32, bool) {
	switch {
	case op.IsSend():
		return 0, true
	case op == OpReadRequest:
		return 1, true
	case op == OpTerminate:
		return 2, true
	}
	return 0, false
}

func (op Opcode) String() string {
	s := [...]string{"Write", "Read Request", "Read Response", "Send", "Send with Invalidate",
		"Send with SE", "Send with SE and Invalidate", "Terminate"}
	if int(op) < len(s) {
		return s[op]
	}
	return "reserved"
}

// ReadRequest is a view of the RDMA Read Request header (RFC 5040 §4.4).
type ReadRequest []byte

// ParseReadRequest checks the length of b.
func ParseReadRequest(b []byte) (ReadRequest, error) {
	if len(b) < ReadRequestLen {
		return nil, ErrShort
	}
	return ReadRequest(b[:ReadRequestLen]), nil
}

func (r ReadRequest) SinkSTag() uint32   { return binary.BigEndian.Uint32(r[0:4]) }
func (r ReadRequest) SinkTO() uint64     { return binary.BigEndian.Uint64(r[4:12]) }
func (r ReadRequest) Size() uint32       { return binary.BigEndian.Uint32(r[12:16]) }
func (r ReadRequest) SourceSTag() uint32 { return binary.BigEndian.Uint32(r[16:20]) }
func (r ReadRequest) SourceTO() uint64   { return binary.BigEndian.Uint64(r[20:28]) }

// AppendReadRequest appends a Read Request header.
func AppendReadRequest(dst []byte, sinkSTag uint32, sinkTO uint64, size uint32, srcSTag uint32, srcTO uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, sinkSTag)
	dst = binary.BigEndian.AppendUint64(dst, sinkTO)
	dst = binary.BigEndian.AppendUint32(dst, size)
	dst = binary.BigEndian.AppendUint32(dst, srcSTag)
	return binary.BigEndian.AppendUint64(dst, srcTO)
}
