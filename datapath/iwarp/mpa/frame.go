package mpa

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Request/Reply frame layout (RFC 5044 §7.1).
const (
	KeyLen          = 16
	FrameHeaderLen  = 20 // key, flags, rev, PD_Length
	MaxPrivateData  = 512
	EnhancedLen     = 4 // RFC 6581 IRD/ORD word at the start of private data
	Rev1            = 1
	Rev2            = 2
	MarkerInterval  = 512
	MarkerLen       = 4
	CRCLen          = 4
	LengthFieldLen  = 2
	MaxIRDORD       = 0x3fff
	flagMarkers     = 0x80
	flagCRC         = 0x40
	flagReject      = 0x20
	flagEnhanced    = 0x10 // set by Linux siw/cxgb4/i40iw with Rev 2
	enhP2P          = 0x8000
	enhZeroSendRTR  = 0x4000
	enhWriteRTR     = 0x8000
	enhReadRTR      = 0x4000
	enhIRDORDMask   = 0x3fff
	maxFrameLen     = FrameHeaderLen + MaxPrivateData
	flagsReservedV1 = 0x1f
)

var (
	keyReq = [KeyLen]byte{'M', 'P', 'A', ' ', 'I', 'D', ' ', 'R', 'e', 'q', ' ', 'F', 'r', 'a', 'm', 'e'}
	keyRep = [KeyLen]byte{'M', 'P', 'A', ' ', 'I', 'D', ' ', 'R', 'e', 'p', ' ', 'F', 'r', 'a', 'm', 'e'}
)

// Sentinel errors for MPA protocol outcomes.
var (
	ErrShortFrame   = errors.New("mpa: short frame")
	ErrBadKey       = errors.New("mpa: bad frame key")
	ErrBadRevision  = errors.New("mpa: unsupported revision")
	ErrPrivateData  = errors.New("mpa: private data too long")
	ErrCRC          = errors.New("mpa: CRC error")
	ErrMarker       = errors.New("mpa: marker does not point at FPDU start")
	ErrULPDULength  = errors.New("mpa: ULPDU length invalid")
	ErrEnhancedData = errors.New("mpa: v2 frame without IRD/ORD")
)

// RTR is the set of peer-to-peer ready-to-receive messages of RFC 6581 §5.
type RTR uint8

const (
	RTRZeroSend  RTR = 1 << iota // zero-length Send
	RTRZeroWrite                 // zero-length RDMA Write
	RTRZeroRead                  // zero-length RDMA Read
)

// Enhanced is the RFC 6581 IRD/ORD word.
type Enhanced struct {
	IRD, ORD int
	P2P      bool
	RTR      RTR
}

// FrameFields describes a Request or Reply frame.
type FrameFields struct {
	Reply   bool
	Markers bool // M: sender wants markers on the data it receives
	CRC     bool // C: sender wants CRC
	Reject  bool // R: Reply only
	Rev     uint8
	// Enh is encoded before PrivateData when Rev is 2.
	Enh         Enhanced
	PrivateData []byte
}

// AppendFrame appends the encoded frame to dst.
func AppendFrame(dst []byte, f FrameFields) ([]byte, error) {
	pd := len(f.PrivateData)
	if f.Rev == Rev2 {
		pd += EnhancedLen
	}
	if pd > MaxPrivateData {
		return dst, ErrPrivateData
	}
	if f.Reply {
		dst = append(dst, keyRep[:]...)
	} else {
		dst = append(dst, keyReq[:]...)
	}
	var flags byte
	if f.Markers {
		flags |= flagMarkers
	}
	if f.CRC {
		flags |= flagCRC
	}
	if f.Reject {
		flags |= flagReject
	}
	if f.Rev == Rev2 {
		flags |= flagEnhanced
	}
	dst = append(dst, flags, f.Rev)
	dst = binary.BigEndian.AppendUint16(dst, uint16(pd))
	if f.Rev == Rev2 {
		ird := uint16(min(f.Enh.IRD, MaxIRDORD))
		ord := uint16(min(f.Enh.ORD, MaxIRDORD))
		if f.Enh.P2P {
			ird |= enhP2P
			if f.Enh.RTR&RTRZeroSend != 0 {
				ird |= enhZeroSendRTR
			}
			if f.Enh.RTR&RTRZeroWrite != 0 {
				ord |= enhWriteRTR
			}
			if f.Enh.RTR&RTRZeroRead != 0 {
				ord |= enhReadRTR
			}
		}
		dst = binary.BigEndian.AppendUint16(dst, ird)
		dst = binary.BigEndian.AppendUint16(dst, ord)
	}
	return append(dst, f.PrivateData...), nil
}

// Frame is a view of a complete Request or Reply frame.
type Frame []byte

// FrameLen reports the total length of the frame whose first FrameHeaderLen bytes are hdr.
func FrameLen(hdr []byte) (int, error) {
	if len(hdr) < FrameHeaderLen {
		return 0, ErrShortFrame
	}
	pd := int(binary.BigEndian.Uint16(hdr[18:20]))
	if pd > MaxPrivateData {
		return 0, fmt.Errorf("pd_length %d: %w", pd, ErrPrivateData)
	}
	return FrameHeaderLen + pd, nil
}

// CheckKey reports ErrBadKey unless b starts with the Request (or Reply) key.
func CheckKey(b []byte, reply bool) error {
	want := keyReq
	if reply {
		want = keyRep
	}
	if len(b) < KeyLen || [KeyLen]byte(b[:KeyLen]) != want {
		return ErrBadKey
	}
	return nil
}

// ParseFrame checks b as a frame (Request if !reply) and returns the view.
func ParseFrame(b []byte, reply bool) (Frame, error) {
	n, err := FrameLen(b)
	if err != nil {
		return nil, err
	}
	if len(b) < n {
		return nil, ErrShortFrame
	}
	want := keyReq
	if reply {
		want = keyRep
	}
	if [KeyLen]byte(b[:KeyLen]) != want {
		return nil, ErrBadKey
	}
	f := Frame(b[:n])
	switch f.Rev() {
	case Rev1:
	case Rev2:
		if len(f) < FrameHeaderLen+EnhancedLen {
			return nil, ErrEnhancedData
		}
	default:
		return nil, fmt.Errorf("rev %d: %w", f.Rev(), ErrBadRevision)
	}
	if !reply && f.Reject() {
		return nil, fmt.Errorf("reject bit in request: %w", ErrBadKey)
	}
	return f, nil
}

func (f Frame) IsReply() bool  { return [KeyLen]byte(f[:KeyLen]) == keyRep }
func (f Frame) Markers() bool  { return f[16]&flagMarkers != 0 }
func (f Frame) CRC() bool      { return f[16]&flagCRC != 0 }
func (f Frame) Reject() bool   { return f[16]&flagReject != 0 }
func (f Frame) Rev() uint8     { return f[17] }
func (f Frame) PDLength() int  { return int(binary.BigEndian.Uint16(f[18:20])) }
func (f Frame) rawPD() []byte  { return f[FrameHeaderLen : FrameHeaderLen+f.PDLength()] }
func (f Frame) Enhanced() bool { return f.Rev() == Rev2 }

// PrivateData is the consumer's private data (after the IRD/ORD word for Rev 2).
func (f Frame) PrivateData() []byte {
	if f.Enhanced() {
		return f.rawPD()[EnhancedLen:]
	}
	return f.rawPD()
}

// Enh decodes the RFC 6581 IRD/ORD word; ok is false for Rev 1 frames.
func (f Frame) Enh() (e Enhanced, ok bool) {
	if !f.Enhanced() {
		return e, false
	}
	pd := f.rawPD()
	ird := binary.BigEndian.Uint16(pd[0:2])
	ord := binary.BigEndian.Uint16(pd[2:4])
	e.IRD = int(ird & enhIRDORDMask)
	e.ORD = int(ord & enhIRDORDMask)
	e.P2P = ird&enhP2P != 0
	if ird&enhZeroSendRTR != 0 {
		e.RTR |= RTRZeroSend
	}
	if ord&enhWriteRTR != 0 {
		e.RTR |= RTRZeroWrite
	}
	if ord&enhReadRTR != 0 {
		e.RTR |= RTRZeroRead
	}
	return e, true
}
