package tcp

import "encoding/binary"

// TCP header constants (RFC 9293 §3.1).
const (
	TCPHeaderLen    = 20
	TCPMaxHeaderLen = 60
)

// TCP flags.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// TCPHeader is a view of a TCP header.
type TCPHeader []byte

// SrcPort returns the source port.
func (h TCPHeader) SrcPort() uint16 { return binary.BigEndian.Uint16(h[0:2]) }

// DstPort returns the destination port.
func (h TCPHeader) DstPort() uint16 { return binary.BigEndian.Uint16(h[2:4]) }

// Seq returns the sequence number.
func (h TCPHeader) Seq() Seq { return Seq(binary.BigEndian.Uint32(h[4:8])) }

// Ack returns the acknowledgment number.
func (h TCPHeader) Ack() Seq { return Seq(binary.BigEndian.Uint32(h[8:12])) }

// DataOffset returns the header length in bytes.
func (h TCPHeader) DataOffset() int { return int(h[12]>>4) * 4 }

// Flags returns the flag byte.
func (h TCPHeader) Flags() uint8 { return h[13] }

// Window returns the unscaled window field.
func (h TCPHeader) Window() uint16 { return binary.BigEndian.Uint16(h[14:16]) }

// Checksum returns the checksum field.
func (h TCPHeader) Checksum() uint16 { return binary.BigEndian.Uint16(h[16:18]) }

// Options returns the options area.
func (h TCPHeader) Options() []byte { return h[TCPHeaderLen:h.DataOffset()] }

// TCPFields are the fixed header fields for encoding.
type TCPFields struct {
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            uint8
	Window           uint16
}

// encodeTCP writes the fixed header with data offset hdrLen (options written by the caller)
// and a zero checksum.
func encodeTCP(b []byte, f *TCPFields, hdrLen int) {
	binary.BigEndian.PutUint16(b[0:2], f.SrcPort)
	binary.BigEndian.PutUint16(b[2:4], f.DstPort)
	binary.BigEndian.PutUint32(b[4:8], uint32(f.Seq))
	binary.BigEndian.PutUint32(b[8:12], uint32(f.Ack))
	b[12] = uint8(hdrLen/4) << 4
	b[13] = f.Flags
	binary.BigEndian.PutUint16(b[14:16], f.Window)
	b[16], b[17], b[18], b[19] = 0, 0, 0, 0
}
