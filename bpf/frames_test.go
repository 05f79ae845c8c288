package bpf

import (
	"encoding/binary"
	"net/netip"
)

// Crafted frames for the classifier tests.

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0xa}
	macB = []byte{0x02, 0, 0, 0, 0, 0xb}
)

// eth builds an Ethernet header with optional VLAN tags (TPID, TCI pairs)
// and the given EtherType.
func eth(etype uint16, tags ...uint16) []byte {
	b := append(append([]byte{}, macB...), macA...)
	for _, tpid := range tags {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, 100) // TCI: VLAN 100
	}
	return binary.BigEndian.AppendUint16(b, etype)
}

type v4 struct {
	dst      string
	proto    byte
	ihl      int // 0: 5 + len(options)/4
	options  []byte
	totLen   int // 0: computed
	fragOff  uint16
	version  byte // 0: 4
	payload  []byte
	truncate int // bytes of the IP header kept (0: all)
}

func (h v4) bytes() []byte {
	ihl := h.ihl
	if ihl == 0 {
		ihl = 5 + len(h.options)/4
	}
	ver := h.version
	if ver == 0 {
		ver = 4
	}
	b := make([]byte, 20, 20+len(h.options)+len(h.payload))
	b[0] = ver<<4 | byte(ihl&0xf)
	tot := h.totLen
	if tot == 0 {
		tot = 20 + len(h.options) + len(h.payload)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(tot))
	binary.BigEndian.PutUint16(b[6:], h.fragOff)
	b[8] = 64
	b[9] = h.proto
	src := netip.MustParseAddr("10.1.0.2").As4()
	copy(b[12:], src[:])
	dst := netip.MustParseAddr(h.dst).As4()
	copy(b[16:], dst[:])
	b = append(b, h.options...)
	if h.truncate > 0 {
		return b[:h.truncate]
	}
	return append(b, h.payload...)
}

func v6(dst string, next byte, payload []byte) []byte {
	b := make([]byte, 40, 40+len(payload))
	b[0] = 6 << 4
	binary.BigEndian.PutUint16(b[4:], uint16(len(payload)))
	b[6] = next
	b[7] = 64
	src := netip.MustParseAddr("fd00::2").As16()
	copy(b[8:], src[:])
	d := netip.MustParseAddr(dst).As16()
	copy(b[24:], d[:])
	return append(b, payload...)
}

// tcp builds a TCP header (data offset doff words, 0: 5) with n payload
// bytes.
func tcp(dport uint16, doff int, n int) []byte {
	if doff == 0 {
		doff = 5
	}
	hl := 20
	if doff > 5 {
		hl = doff * 4
	}
	b := make([]byte, hl+n)
	binary.BigEndian.PutUint16(b[0:], 40000)
	binary.BigEndian.PutUint16(b[2:], dport)
	b[12] = byte(doff << 4)
	b[13] = 0x02 // SYN
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// refVerdict is the Go reference model of steer.c: what the classifier must
// do with a frame under a rule set. matched is the index into rules of the
// rule that matched, or -1.
func refVerdict(f []byte, rules []Rule) (verdict int, matched int) {
	const malformed, passed = verdictMalformed, verdictPassed
	if len(f) < 14 {
		return malformed, -1
	}
	et := binary.BigEndian.Uint16(f[12:])
	off := 14
	isTag := func(t uint16) bool { return t == 0x8100 || t == 0x88a8 }
	for i := 0; i < 2 && isTag(et); i++ {
		if len(f) < off+4 {
			return malformed, -1
		}
		et = binary.BigEndian.Uint16(f[off+2:])
		off += 4
	}
	if isTag(et) {
		return malformed, -1
	}
	var dst netip.Addr
	switch et {
	case 0x0800:
		if len(f) < off+20 {
			return malformed, -1
		}
		ip := f[off:]
		ihl := int(ip[0]&0xf) * 4
		if ip[0]>>4 != 4 || ihl < 20 || int(binary.BigEndian.Uint16(ip[2:])) < ihl || len(ip) < ihl {
			return malformed, -1
		}
		if ip[9] != 6 || binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
			return passed, -1
		}
		dst = netip.AddrFrom4([4]byte(ip[16:20]))
		off += ihl
	case 0x86dd:
		if len(f) < off+40 {
			return malformed, -1
		}
		ip := f[off:]
		if ip[0]>>4 != 6 {
			return malformed, -1
		}
		if ip[6] != 6 {
			return passed, -1
		}
		dst = netip.AddrFrom16([16]byte(ip[24:40]))
		if dst.Is4In6() {
			return passed, -1
		}
		off += 40
	default:
		return passed, -1
	}
	if len(f) < off+20 {
		return malformed, -1
	}
	doff := int(f[off+12]>>4) * 4
	if doff < 20 || len(f) < off+doff {
		return malformed, -1
	}
	port := binary.BigEndian.Uint16(f[off+2:])
	for _, exact := range []bool{true, false} {
		for i, r := range rules {
			if r.Port != port {
				continue
			}
			if (exact && !r.Any() && r.Addr == dst) || (!exact && r.Any()) {
				return verdictNoSocket, i // no socket is registered in these tests
			}
		}
	}
	return passed, -1
}
