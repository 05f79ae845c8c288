package tcp

import "encoding/binary"

// IP constants.
const (
	IPv4HeaderLen = 20
	IPv6HeaderLen = 40
	ProtoTCP      = 6
	defaultTTL    = 64
)

// IPv4 is a view of an IPv4 header (RFC 791 §3.1).
type IPv4 []byte

// Version returns the version field.
func (h IPv4) Version() int { return int(h[0] >> 4) }

// HeaderLen returns IHL in bytes.
func (h IPv4) HeaderLen() int { return int(h[0]&0x0f) * 4 }

// TotalLen returns the total length field.
func (h IPv4) TotalLen() int { return int(binary.BigEndian.Uint16(h[2:4])) }

// FragOff returns the flags+fragment offset field.
func (h IPv4) FragOff() uint16 { return binary.BigEndian.Uint16(h[6:8]) }

// Protocol returns the protocol field.
func (h IPv4) Protocol() uint8 { return h[9] }

// Src returns the source address bytes.
func (h IPv4) Src() []byte { return h[12:16] }

// Dst returns the destination address bytes.
func (h IPv4) Dst() []byte { return h[16:20] }

// IsFragment reports MF set or a nonzero offset.
func (h IPv4) IsFragment() bool { return h.FragOff()&0x3fff != 0 }

// encodeIPv4 writes a 20-byte IPv4 header with DF set and its checksum.
func encodeIPv4(b []byte, src, dst []byte, payloadLen int, id uint16) {
	b[0] = 0x45
	b[1] = 0
	binary.BigEndian.PutUint16(b[2:4], uint16(IPv4HeaderLen+payloadLen))
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], 0x4000)
	b[8] = defaultTTL
	b[9] = ProtoTCP
	b[10], b[11] = 0, 0
	copy(b[12:16], src)
	copy(b[16:20], dst)
	binary.BigEndian.PutUint16(b[10:12], Checksum(b[:IPv4HeaderLen]))
}

// IPv6 is a view of an IPv6 fixed header (RFC 8200 §3).
type IPv6 []byte

// Version returns the version field.
func (h IPv6) Version() int { return int(h[0] >> 4) }

// PayloadLen returns the payload length field.
func (h IPv6) PayloadLen() int { return int(binary.BigEndian.Uint16(h[4:6])) }

// NextHeader returns the next header field.
func (h IPv6) NextHeader() uint8 { return h[6] }

// Src returns the source address bytes.
func (h IPv6) Src() []byte { return h[8:24] }

// Dst returns the destination address bytes.
func (h IPv6) Dst() []byte { return h[24:40] }

// encodeIPv6 writes a 40-byte IPv6 header.
func encodeIPv6(b []byte, src, dst []byte, payloadLen int) {
	b[0], b[1], b[2], b[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(b[4:6], uint16(payloadLen))
	b[6] = ProtoTCP
	b[7] = defaultTTL
	copy(b[8:24], src)
	copy(b[24:40], dst)
}
