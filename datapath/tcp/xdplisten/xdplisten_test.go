//go:build linux

package xdplisten

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/xtgt/xtgt/bpf"
	"github.com/xtgt/xtgt/datapath/link/neigh"
	"github.com/xtgt/xtgt/datapath/tcp/internal/vethbed"
	"github.com/xtgt/xtgt/datapath/xsk"
)

func setup(t *testing.T) *vethbed.Bed {
	b := vethbed.New(t)
	// The engine shares the kernel interface's address: the kernel keeps ARP/ICMP, the
	// classifier steers only our port.
	out, err := exec.Command("ip", "-n", b.NSEngine, "addr", "add", b.IPEngine.String()+"/24", "dev", b.IfEngine).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	// Default veth offloads on the peer (checksum offload, TSO/GSO), as an unprepared test bed has.
	if err := b.Do(b.NSPeer, func() error { return vethbed.SetOffloads(b.IfPeer, true) }); err != nil {
		t.Fatal(err)
	}
	return b
}

func listen(t *testing.T, b *vethbed.Bed, opts Options) *Listener {
	var l *Listener
	err := b.Do(b.NSEngine, func() (err error) {
		l, err = Listen(context.Background(), b.IfEngine, b.IPEngine, 3260, opts)
		return err
	})
	if errors.Is(err, xsk.ErrUnsupported) || errors.Is(err, bpf.ErrNativeUnsupported) {
		t.Skipf("AF_XDP unavailable here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func xdpAttached(t *testing.T, b *vethbed.Bed) bool {
	var att bool
	b.Do(b.NSEngine, func() error {
		lk, err := netlink.LinkByName(b.IfEngine)
		if err != nil {
			return err
		}
		att = lk.Attrs().Xdp != nil && lk.Attrs().Xdp.Attached
		return nil
	})
	return att
}

func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 5))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestXDPListenerKernelPeer(t *testing.T) {
	b := setup(t)
	l := listen(t, b, Options{})
	defer b.Do(b.NSEngine, l.Close)
	if !xdpAttached(t, b) {
		t.Fatal("classifier not attached")
	}
	n := 16 << 20
	if v := os.Getenv("XTGT_XDP_BULK_BYTES"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	up, down := randBytes(n, 1), randBytes(n, 2)
	var kc net.Conn
	if err := b.Do(b.NSPeer, func() (err error) {
		kc, err = net.DialTimeout("tcp", netip.AddrPortFrom(b.IPEngine, 3260).String(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ec, err := l.AcceptConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	kc.SetDeadline(time.Now().Add(2 * time.Minute))
	ec.SetDeadline(time.Now().Add(2 * time.Minute))
	start := time.Now()
	go func() { kc.Write(up); kc.(*net.TCPConn).CloseWrite() }()
	got, err := io.ReadAll(ec)
	if err != nil || sha256.Sum256(got) != sha256.Sum256(up) {
		t.Fatalf("kernel->engine: %d bytes, err %v", len(got), err)
	}
	t1 := time.Since(start)
	go func() { ec.Write(down); ec.CloseWrite() }()
	got, err = io.ReadAll(kc)
	if err != nil || sha256.Sum256(got) != sha256.Sum256(down) {
		t.Fatalf("engine->kernel: %d bytes, err %v", len(got), err)
	}
	t.Logf("%d MiB each way over AF_XDP: k->e %v, e->k %v, retransmits %d", n>>20, t1.Round(time.Millisecond),
		(time.Since(start) - t1).Round(time.Millisecond), ec.Stats.Retransmits.Load())
	ec.Close()
	if err := b.Do(b.NSEngine, l.Close); err != nil {
		t.Fatal(err)
	}
	if xdpAttached(t, b) {
		t.Fatal("classifier still attached after Close")
	}
}

// TestXDPListenerKeepsForeignSetup: a classifier attached by someone else (xdpctl) stays.
func TestXDPListenerKeepsForeignSetup(t *testing.T) {
	b := setup(t)
	var s *bpf.Steering
	if err := b.Do(b.NSEngine, func() (err error) {
		s, err = bpf.Attach(b.IfEngine, bpf.Options{})
		return err
	}); err != nil {
		t.Skipf("cannot attach classifier: %v", err)
	}
	defer b.Do(b.NSEngine, s.Detach)
	l := listen(t, b, Options{})
	if err := b.Do(b.NSEngine, l.Close); err != nil {
		t.Fatal(err)
	}
	if !xdpAttached(t, b) {
		t.Fatal("Close detached a classifier it did not attach")
	}
	rs, err := s.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 0 {
		t.Fatalf("rules left behind: %v", rs)
	}
}

// TestNeighResolve resolves the peer's MAC through the kernel's neighbour table (provoking ARP)
// and a permanent entry, as active opens do.
func TestNeighResolve(t *testing.T) {
	b := setup(t)
	var mac [6]byte
	if err := b.Do(b.NSEngine, func() (err error) {
		mac, err = neigh.Resolve(b.IPPeer, 2*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if mac != b.MACPeer {
		t.Fatalf("resolved %x, want %x", mac, b.MACPeer)
	}
	if err := b.Do(b.NSPeer, func() (err error) {
		mac, err = neigh.Resolve(b.IPEngine, time.Second)
		return err
	}); err != nil || mac != b.MACEngine {
		t.Fatalf("permanent entry: %x %v", mac, err)
	}
	if err := b.Do(b.NSEngine, func() (err error) {
		_, err = neigh.Resolve(netip.MustParseAddr("198.18.255.77"), 300*time.Millisecond)
		return err
	}); err == nil {
		t.Fatal("resolved an address nobody owns")
	}
}

// TestXDPManyConnections runs concurrent echo connections through one queue's UMEM.
func TestXDPManyConnections(t *testing.T) {
	b := setup(t)
	l := listen(t, b, Options{})
	defer b.Do(b.NSEngine, l.Close)
	const conns, per = 32, 1 << 20
	go func() {
		for i := 0; i < conns; i++ {
			c, err := l.AcceptConn(context.Background())
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.CloseWrite()
			}()
		}
	}()
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		var kc net.Conn
		if err := b.Do(b.NSPeer, func() (err error) {
			kc, err = net.DialTimeout("tcp", netip.AddrPortFrom(b.IPEngine, 3260).String(), 5*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		go func(i int, kc net.Conn) {
			defer kc.Close()
			kc.SetDeadline(time.Now().Add(60 * time.Second))
			data := randBytes(per, uint64(i))
			go func() { kc.Write(data); kc.(*net.TCPConn).CloseWrite() }()
			got, err := io.ReadAll(kc)
			if err == nil && sha256.Sum256(got) != sha256.Sum256(data) {
				err = io.ErrUnexpectedEOF
			}
			errs <- err
		}(i, kc)
	}
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil {
			t.Errorf("connection: %v", err)
		}
	}
}
