//go:build linux

// Package neigh resolves the Ethernet next hop for an active open from the kernel's route and
// neighbour tables (rtnetlink via vishvananda/netlink), in the calling thread's namespace.
package neigh

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrUnresolved means no neighbour entry appeared for the next hop.
var ErrUnresolved = errors.New("neigh: next hop unresolved")

// Resolve returns the MAC of the next hop toward dst. If the kernel has no usable entry it
// provokes resolution with one UDP datagram to the discard port and waits up to wait.
func Resolve(dst netip.Addr, wait time.Duration) ([6]byte, error) {
	var mac [6]byte
	routes, err := netlink.RouteGet(net.IP(dst.AsSlice()))
	if err != nil || len(routes) == 0 {
		return mac, fmt.Errorf("neigh: route to %v: %w", dst, err)
	}
	r := routes[0]
	hop := dst
	if r.Gw != nil {
		if a, ok := netip.AddrFromSlice(r.Gw); ok {
			hop = a.Unmap()
		}
	}
	deadline := time.Now().Add(wait)
	for probed := false; ; {
		if m, ok := lookup(r.LinkIndex, hop); ok {
			return m, nil
		}
		if time.Now().After(deadline) {
			return mac, fmt.Errorf("%w: %v", ErrUnresolved, hop)
		}
		if !probed {
			probed = true
			if c, err := net.Dial("udp", netip.AddrPortFrom(hop, 9).String()); err == nil {
				c.Write([]byte{0})
				c.Close()
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func lookup(link int, hop netip.Addr) ([6]byte, bool) {
	var mac [6]byte
	fam := netlink.FAMILY_V4
	if hop.Is6() {
		fam = netlink.FAMILY_V6
	}
	ns, err := netlink.NeighList(link, fam)
	if err != nil {
		return mac, false
	}
	for _, n := range ns {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok || a.Unmap() != hop || len(n.HardwareAddr) != 6 {
			continue
		}
		if n.State&(unix.NUD_REACHABLE|unix.NUD_STALE|unix.NUD_PERMANENT|unix.NUD_DELAY|unix.NUD_PROBE|unix.NUD_NOARP) == 0 {
			continue
		}
		copy(mac[:], n.HardwareAddr)
		return mac, true
	}
	return mac, false
}
