package netnstest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

var counter atomic.Uint32

// UniqueName returns a name unique to this process and call, at most 15
// bytes (an interface name fits): "xt" + pid + "x" + counter.
func UniqueName() string {
	n := fmt.Sprintf("xt%dx%d", os.Getpid()%10000000, counter.Add(1))
	if len(n) > 15 {
		n = n[len(n)-15:]
	}
	return n
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: creates network namespaces and veth pairs")
	}
}

// NS is a named network namespace.
type NS struct {
	Name   string
	Handle netns.NsHandle
}

// Path returns the namespace's bind mount, for nsenter --net=PATH.
func (ns *NS) Path() string { return "/run/netns/" + ns.Name }

// New creates n network namespaces with loopback up; they are deleted on
// cleanup.
func New(tb testing.TB, n int) []*NS {
	tb.Helper()
	RequireRoot(tb)
	out := make([]*NS, 0, n)
	for range n {
		ns, err := newNS(UniqueName())
		if err != nil {
			tb.Fatalf("netnstest: %v", err)
		}
		tb.Cleanup(func() {
			ns.Handle.Close()
			if err := netns.DeleteNamed(ns.Name); err != nil {
				tb.Errorf("netnstest: delete netns %s: %v", ns.Name, err)
			}
		})
		out = append(out, ns)
		if err := ns.Do(func() error {
			lo, err := netlink.LinkByName("lo")
			if err != nil {
				return err
			}
			return netlink.LinkSetUp(lo)
		}); err != nil {
			tb.Fatalf("netnstest: loopback up in %s: %v", ns.Name, err)
		}
	}
	return out
}

func newNS(name string) (*NS, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name) // switches this thread into it
	if serr := netns.Set(orig); serr != nil {
		// The thread is stuck in the wrong namespace: never unlock it,
		// so the runtime discards it.
		runtime.LockOSThread()
		return nil, fmt.Errorf("restore netns: %w", serr)
	}
	if err != nil {
		return nil, fmt.Errorf("create netns %s: %w", name, err)
	}
	return &NS{Name: name, Handle: h}, nil
}

// Do runs fn on a locked OS thread inside the namespace and returns its
// error. Goroutines fn starts do not inherit the namespace, but sockets fn
// creates stay in it.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Leaving the thread locked when this goroutine ends makes the
		// runtime terminate it, so no thread leaks out in the wrong
		// namespace even if restoring failed.
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns.Handle); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// Run is Do for a test: a failure is fatal.
func (ns *NS) Run(tb testing.TB, fn func() error) {
	tb.Helper()
	if err := ns.Do(fn); err != nil {
		tb.Fatalf("in netns %s: %v", ns.Name, err)
	}
}

// Command returns a command that runs inside the namespace through nsenter
// (which, unlike `ip netns exec`, leaves /sys and bpffs alone).
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + ns.Path(), "--", name}, args...)...)
}

// PairConfig describes a veth pair between two new namespaces. Zero values
// pick defaults.
type PairConfig struct {
	AddrA, AddrB netip.Prefix // default 10.99.0.1/24, 10.99.0.2/24
	MTU          int          // default 1500
	Queues       int          // rx/tx queues per end, default 1
}

// Pair is a veth pair whose ends live in namespaces A and B.
type Pair struct {
	A, B         *NS
	IfA, IfB     string // interface names (inside their namespace)
	IndexA       int
	IndexB       int
	MACA, MACB   net.HardwareAddr
	AddrA, AddrB netip.Prefix
}

// NewPair creates two namespaces joined by a veth pair, addressed and up.
func NewPair(tb testing.TB, cfg PairConfig) *Pair {
	tb.Helper()
	if !cfg.AddrA.IsValid() {
		cfg.AddrA = netip.MustParsePrefix("10.99.0.1/24")
	}
	if !cfg.AddrB.IsValid() {
		cfg.AddrB = netip.MustParsePrefix("10.99.0.2/24")
	}
	for _, p := range []netip.Prefix{cfg.AddrA, cfg.AddrB} {
		if !allowed(p.Addr()) {
			tb.Fatalf("netnstest: address %s outside 10.0.0.0/8 and 198.18.0.0/15", p)
		}
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.Queues == 0 {
		cfg.Queues = 1
	}
	nss := New(tb, 2)
	p := &Pair{A: nss[0], B: nss[1], IfA: UniqueName(), IfB: UniqueName(), AddrA: cfg.AddrA, AddrB: cfg.AddrB}
	// Create the pair directly inside A with its peer in B: nothing ever
	// appears in the caller's namespace.
	err := p.A.Do(func() error {
		la := netlink.NewLinkAttrs()
		la.Name = p.IfA
		la.MTU = cfg.MTU
		la.NumTxQueues = cfg.Queues
		la.NumRxQueues = cfg.Queues
		v := &netlink.Veth{LinkAttrs: la, PeerName: p.IfB, PeerNamespace: netlink.NsFd(p.B.Handle)}
		if err := netlink.LinkAdd(v); err != nil {
			return fmt.Errorf("add veth %s/%s: %w", p.IfA, p.IfB, err)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("netnstest: %v", err)
	}
	for _, end := range []struct {
		ns    *NS
		name  string
		addr  netip.Prefix
		index *int
		mac   *net.HardwareAddr
	}{{p.A, p.IfA, p.AddrA, &p.IndexA, &p.MACA}, {p.B, p.IfB, p.AddrB, &p.IndexB, &p.MACB}} {
		err := end.ns.Do(func() error {
			l, err := netlink.LinkByName(end.name)
			if err != nil {
				return err
			}
			if cfg.MTU != 1500 {
				if err := netlink.LinkSetMTU(l, cfg.MTU); err != nil {
					return err
				}
			}
			ipn := &net.IPNet{IP: end.addr.Addr().AsSlice(), Mask: net.CIDRMask(end.addr.Bits(), end.addr.Addr().BitLen())}
			if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: ipn}); err != nil {
				return fmt.Errorf("address %s on %s: %w", end.addr, end.name, err)
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return err
			}
			*end.index = l.Attrs().Index
			*end.mac = l.Attrs().HardwareAddr
			return nil
		})
		if err != nil {
			tb.Fatalf("netnstest: %v", err)
		}
	}
	// Deleting the namespaces deletes the pair; still delete it explicitly
	// first so a kept namespace (a failing cleanup) leaves no veth.
	tb.Cleanup(func() {
		_ = p.A.Do(func() error {
			if l, err := netlink.LinkByName(p.IfA); err == nil {
				return netlink.LinkDel(l)
			}
			return nil
		})
	})
	if err := p.WaitUp(5 * time.Second); err != nil {
		tb.Fatalf("netnstest: %v", err)
	}
	return p
}

// WaitUp waits until both ends report carrier (bounded by timeout).
func (p *Pair) WaitUp(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, end := range []struct {
		ns   *NS
		name string
	}{{p.A, p.IfA}, {p.B, p.IfB}} {
		for {
			var up bool
			err := end.ns.Do(func() error {
				l, err := netlink.LinkByName(end.name)
				if err != nil {
					return err
				}
				up = l.Attrs().OperState == netlink.OperUp
				return nil
			})
			if err != nil {
				return err
			}
			if up {
				break
			}
			if time.Now().After(deadline) {
				return errors.New("veth " + end.name + " not up within " + timeout.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func allowed(a netip.Addr) bool {
	return netip.MustParsePrefix("10.0.0.0/8").Contains(a) || netip.MustParsePrefix("198.18.0.0/15").Contains(a)
}
