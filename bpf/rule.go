package bpf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Rule steers TCP segments for destination (Addr, Port) to AF_XDP. An
// invalid (zero) Addr is the wildcard: any destination address.
type Rule struct {
	Addr netip.Addr
	Port uint16
}

// Any reports whether the rule matches any destination address.
func (r Rule) Any() bool { return !r.Addr.IsValid() }

func (r Rule) String() string {
	if r.Any() {
		return "any:" + strconv.Itoa(int(r.Port))
	}
	return netip.AddrPortFrom(r.Addr, r.Port).String()
}

// ParseAddr parses an address argument: an IPv4 or IPv6 address, or "any"
// (also "*", "0.0.0.0" and "::") for the wildcard.
func ParseAddr(s string) (netip.Addr, error) {
	switch strings.ToLower(s) {
	case "any", "*", "", "0.0.0.0", "::":
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	return a.WithZone("").Unmap(), nil
}

func (r Rule) key() (steerRuleKey, error) {
	var k steerRuleKey
	if r.Port == 0 {
		return k, fmt.Errorf("rule %s: port 0", r)
	}
	if !r.Any() {
		k.Addr = r.Addr.As16() // IPv4 becomes ::ffff:a.b.c.d, as in steer.c
		if k.Addr == [16]byte{} {
			return k, fmt.Errorf("rule %s: unspecified address is the wildcard, write any", r)
		}
	}
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], r.Port)
	k.Port = binary.NativeEndian.Uint16(b[:]) // network byte order in memory
	return k, nil
}

func ruleFromKey(k steerRuleKey) Rule {
	var r Rule
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], k.Port)
	r.Port = binary.BigEndian.Uint16(b[:])
	if k.Addr != [16]byte{} {
		r.Addr = netip.AddrFrom16(k.Addr).Unmap()
	}
	return r
}
