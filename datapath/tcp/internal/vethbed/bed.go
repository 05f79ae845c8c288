//go:build linux

package vethbed

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// Bed is one engine/peer namespace pair joined by a veth.
type Bed struct {
	NSEngine, NSPeer string
	IfEngine, IfPeer string
	MACEngine        [6]byte
	MACPeer          [6]byte
	IPEngine, IPPeer netip.Addr
	// IPv6 addresses (peer configured with nodad; engine address via a static neighbour).
	IP6Engine, IP6Peer netip.Addr
}

var seq atomic.Uint32

// Skip skips t unless the process can create namespaces.
func Skip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and veth pairs")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
}

// New creates the bed; cleanup removes both namespaces (and with them the veth) even on failure.
func New(t testing.TB) *Bed {
	t.Helper()
	Skip(t)
	n := seq.Add(1)
	id := fmt.Sprintf("%d%d", os.Getpid()%100000, n)
	b := &Bed{
		NSEngine: "xtgtE" + id, NSPeer: "xtgtP" + id,
		IfEngine: "xe" + id, IfPeer: "xp" + id,
		IPEngine: netip.AddrFrom4([4]byte{198, 18, byte(n % 250), 1}),
		IPPeer:   netip.AddrFrom4([4]byte{198, 18, byte(n % 250), 2}),
	}
	b.IP6Engine = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(n % 250), 14: 0, 15: 1})
	b.IP6Peer = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(n % 250), 14: 0, 15: 2})
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", b.NSEngine).Run()
		_ = exec.Command("ip", "netns", "del", b.NSPeer).Run()
	})
	must := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	must("ip", "netns", "add", b.NSEngine)
	must("ip", "netns", "add", b.NSPeer)
	must("ip", "link", "add", b.IfEngine, "netns", b.NSEngine, "type", "veth", "peer", "name", b.IfPeer, "netns", b.NSPeer)
	must("ip", "-n", b.NSEngine, "link", "set", "lo", "up")
	must("ip", "-n", b.NSPeer, "link", "set", "lo", "up")
	must("ip", "-n", b.NSEngine, "link", "set", b.IfEngine, "up")
	must("ip", "-n", b.NSPeer, "addr", "add", b.IPPeer.String()+"/24", "dev", b.IfPeer)
	must("ip", "-n", b.NSPeer, "-6", "addr", "add", b.IP6Peer.String()+"/64", "dev", b.IfPeer, "nodad")
	must("ip", "-n", b.NSPeer, "link", "set", b.IfPeer, "up")
	err := b.Do(b.NSEngine, func() error {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+b.IfEngine+"/disable_ipv6", []byte("1"), 0)
		ifi, err := net.InterfaceByName(b.IfEngine)
		if err != nil {
			return err
		}
		copy(b.MACEngine[:], ifi.HardwareAddr)
		return SetOffloads(b.IfEngine, false)
	})
	if err != nil {
		t.Fatalf("engine namespace setup: %v", err)
	}
	err = b.Do(b.NSPeer, func() error {
		ifi, err := net.InterfaceByName(b.IfPeer)
		if err != nil {
			return err
		}
		copy(b.MACPeer[:], ifi.HardwareAddr)
		return SetOffloads(b.IfPeer, false)
	})
	if err != nil {
		t.Fatalf("peer namespace setup: %v", err)
	}
	mac := net.HardwareAddr(b.MACEngine[:]).String()
	must("ip", "-n", b.NSPeer, "neigh", "replace", b.IPEngine.String(), "lladdr", mac, "dev", b.IfPeer, "nud", "permanent")
	must("ip", "-n", b.NSPeer, "-6", "neigh", "replace", b.IP6Engine.String(), "lladdr", mac, "dev", b.IfPeer, "nud", "permanent")
	return b
}

// Do runs fn on a locked OS thread inside network namespace ns. Sockets created by fn stay in
// ns after it returns.
func (b *Bed) Do(ns string, fn func() error) error { return Do(ns, fn) }

// Do runs fn on a locked OS thread inside the named network namespace (/run/netns/NAME).
func Do(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: it dies with the goroutine, so a half-restored
		// namespace never leaks to other goroutines.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// LimitPeerGSO makes the peer kernel send one segment per skb (gso_max_segs 1), so that a
// tc program on the peer's egress sees every segment (GSO segmentation happens after tc).
func (b *Bed) LimitPeerGSO() error {
	out, err := exec.Command("ip", "-n", b.NSPeer, "link", "set", "dev", b.IfPeer, "gso_max_segs", "1").CombinedOutput()
	if err != nil {
		return fmt.Errorf("gso_max_segs: %v: %s", err, out)
	}
	return nil
}
