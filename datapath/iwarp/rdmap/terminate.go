package rdmap

import "encoding/binary"

// Terminate layers (RFC 5040 §4.8).
const (
	LayerRDMAP = 0x0
	LayerDDP   = 0x1
	LayerLLP   = 0x2
)

// RDMAP error types and codes (RFC 5040 §7).
const (
	ETypeLocalCatastrophic = 0x0
	ETypeRemoteProtection  = 0x1
	ETypeRemoteOperation   = 0x2

	CodeInvalidSTag      = 0x00
	CodeBaseBounds       = 0x01
	CodeAccessRights     = 0x02
	CodeSTagNotAssoc     = 0x03
	CodeTOWrap           = 0x04
	CodeInvalidVersion   = 0x05
	CodeUnexpectedOpcode = 0x06
	CodeCatastrophicQP   = 0x07
	CodeCatastrophicGlob = 0x08
	CodeCannotInvalidate = 0x09
	CodeUnspecified      = 0xff
	termFlagM            = 0x80 // DDP Segment Length valid
	termFlagD            = 0x40 // Terminated DDP header included
	termFlagR            = 0x20 // Terminated RDMA (Read Request) header included
)

// LLP (MPA) error codes (RFC 5044 §8, RFC 6581 §6), error type 0.
const (
	LLPCodeStreamLost       = 0x01
	LLPCodeCRC              = 0x02
	LLPCodeMarker           = 0x03
	LLPCodeInvalidReqRep    = 0x04
	LLPCodeLocalCatastrophc = 0x05
	LLPCodeInsufficientIRD  = 0x06
	LLPCodeNoMatchingRTR    = 0x07
)

// Terminate is a view of the Terminate header that follows the untagged DDP header on QN 2.
type Terminate []byte

// ParseTerminate checks b's length against the flags it carries.
func ParseTerminate(b []byte) (Terminate, error) {
	if len(b) < TermCtrlLen {
		return nil, ErrShort
	}
	t := Terminate(b)
	need := TermCtrlLen
	if t.HasDDPHeader() {
		need += TermSegLenLen
		if len(b) < need+1 {
			return nil, ErrShort
		}
		need += headerLen(b[need])
	}
	if t.HasRDMAHeader() {
		need += ReadRequestLen
	}
	if len(b) < need {
		return nil, ErrShort
	}
	return t[:need], nil
}

func headerLen(ddpCtrl byte) int {
	if ddpCtrl&0x80 != 0 {
		return 14
	}
	return 18
}

func (t Terminate) Layer() uint8        { return t[0] >> 4 }
func (t Terminate) EType() uint8        { return t[0] & 0x0f }
func (t Terminate) Code() uint8         { return t[1] }
func (t Terminate) HasSegLen() bool     { return t[2]&termFlagM != 0 }
func (t Terminate) HasDDPHeader() bool  { return t[2]&termFlagD != 0 }
func (t Terminate) HasRDMAHeader() bool { return t[2]&termFlagR != 0 }

// SegLen is the terminated DDP segment length (valid if HasDDPHeader).
func (t Terminate) SegLen() uint16 { return binary.BigEndian.Uint16(t[4:6]) }

// DDPHeader is the terminated DDP header, or nil.
func (t Terminate) DDPHeader() []byte {
	if !t.HasDDPHeader() {
		return nil
	}
	return t[6 : 6+headerLen(t[6])]
}

// RDMAHeader is the terminated Read Request header, or nil.
func (t Terminate) RDMAHeader() []byte {
	if !t.HasRDMAHeader() {
		return nil
	}
	off := TermCtrlLen
	if t.HasDDPHeader() {
		off += TermSegLenLen + headerLen(t[6])
	}
	return t[off : off+ReadRequestLen]
}

// AppendTerminate appends a Terminate header. ddpHdr (with segLen, the terminated segment's ULPDU length)
// and rdmaHdr are optional.
func AppendTerminate(dst []byte, layer, etype, code uint8, segLen uint16, ddpHdr, rdmaHdr []byte) []byte {
	var flags byte
	if len(ddpHdr) > 0 {
		flags |= termFlagM | termFlagD
	}
	if len(rdmaHdr) == ReadRequestLen {
		flags |= termFlagR
	}
	dst = append(dst, layer<<4|etype&0x0f, code, flags, 0)
	if len(ddpHdr) > 0 {
		dst = binary.BigEndian.AppendUint16(dst, segLen)
		dst = append(dst, ddpHdr...)
	}
	if flags&termFlagR != 0 {
		dst = append(dst, rdmaHdr...)
	}
	return dst
}
