package tcp

import "encoding/binary"

// Ethernet II framing.
const (
	EthHeaderLen  = 14
	EtherTypeIPv4 = 0x0800
	EtherTypeIPv6 = 0x86dd
	EtherTypeVLAN = 0x8100
)

// MAC is an Ethernet address.
type MAC = [6]byte

// Eth is a view of an Ethernet II header.
type Eth []byte

// Dst returns the destination address.
func (e Eth) Dst() (m MAC) { copy(m[:], e[0:6]); return }

// Src returns the source address.
func (e Eth) Src() (m MAC) { copy(m[:], e[6:12]); return }

// Type returns the EtherType.
func (e Eth) Type() uint16 { return binary.BigEndian.Uint16(e[12:14]) }

// encodeEth writes an Ethernet header into b[0:14].
func encodeEth(b []byte, dst, src MAC, etype uint16) {
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etype)
}
