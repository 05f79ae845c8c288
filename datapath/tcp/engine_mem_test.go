package tcp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/link/memlink"
	"github.com/xtgt/xtgt/datapath/tcp"
)

var (
	macA = [6]byte{2, 0, 0, 0, 0, 0xa}
	macB = [6]byte{2, 0, 0, 0, 0, 0xb}
	ipA  = netip.MustParseAddr("198.18.0.1")
	ipB  = netip.MustParseAddr("198.18.0.2")
)

type pair struct {
	a, b   *tcp.Engine
	la, lb *memlink.Link
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newPair(t *testing.T, mut func(a, b *tcp.Config)) *pair {
	t.Helper()
	return newPairLinks(t, nil, mut)
}

// newPairLinks is newPair with a hook to configure the links before the engines see them.
func newPairLinks(t *testing.T, links func(a, b *memlink.Link), mut func(a, b *tcp.Config)) *pair {
	t.Helper()
	la, lb := memlink.NewPair(macA, macB, 8192, 2048, 1500)
	if links != nil {
		links(la, lb)
	}
	return newPairOver(t, la, lb, mut)
}

// newPairOver runs two engines over the given links.
func newPairOver(t *testing.T, la, lb *memlink.Link, mut func(a, b *tcp.Config)) *pair {
	t.Helper()
	ca := tcp.Config{Addrs: []netip.Addr{ipA}, Resolve: func(netip.Addr) (tcp.MAC, error) { return macB, nil }}
	cb := tcp.Config{Addrs: []netip.Addr{ipB}, Resolve: func(netip.Addr) (tcp.MAC, error) { return macA, nil }}
	if mut != nil {
		mut(&ca, &cb)
	}
	a, err := tcp.NewEngine(la, ca)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tcp.NewEngine(lb, cb)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pair{a: a, b: b, la: la, lb: lb, cancel: cancel}
	p.wg.Add(2)
	go func() { defer p.wg.Done(); _ = a.Run(ctx) }()
	go func() { defer p.wg.Done(); _ = b.Run(ctx) }()
	t.Cleanup(func() { cancel(); p.wg.Wait() })
	return p
}

// connect returns (client on A, server on B).
func (p *pair) connect(t *testing.T, port uint16) (*tcp.Conn, *tcp.Conn) {
	t.Helper()
	l, err := p.b.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	type res struct {
		c   *tcp.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.AcceptConn(ctx); ch <- res{c, err} }()
	cl, err := p.a.Dial(ctx, netip.AddrPortFrom(ipB, port))
	if err != nil {
		t.Fatal("dial:", err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal("accept:", r.err)
	}
	return cl, r.c
}

func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func transfer(t *testing.T, w, r *tcp.Conn, data []byte) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		if err == nil {
			err = w.CloseWrite()
		}
		errc <- err
	}()
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v (got %d of %d)", err, len(got), len(data))
	}
	if err := <-errc; err != nil {
		t.Fatal("write:", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("data mismatch: got %d bytes, want %d", len(got), len(data))
	}
}

func TestMemHandshakeAndTransfer(t *testing.T) {
	for _, cc := range []string{"cubic", "newreno"} {
		t.Run(cc, func(t *testing.T) {
			p := newPair(t, func(a, b *tcp.Config) { a.CongestionControl = cc; b.CongestionControl = cc })
			cl, sv := p.connect(t, 3260)
			if cl.State() != tcp.StateEstablished || sv.State() != tcp.StateEstablished {
				t.Fatalf("states %v %v", cl.State(), sv.State())
			}
			data := pattern(8<<20, 1)
			transfer(t, cl, sv, data)
			back := pattern(3<<20+17, 2)
			transfer(t, sv, cl, back)
			cl.Close()
			sv.Close()
			waitState(t, cl, tcp.StateTimeWait, tcp.StateClosed)
			waitState(t, sv, tcp.StateClosed)
		})
	}
}

func waitState(t *testing.T, c *tcp.Conn, want ...tcp.State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s := c.State()
		for _, w := range want {
			if s == w {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("state %v, want one of %v", c.State(), want)
}

func TestMemLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
		mut  func(a, b *tcp.Config)
	}{
		{"sack-cubic-2pct", 0.02, nil},
		{"sack-cubic-5pct", 0.05, nil},
		{"newreno-nosack-2pct", 0.02, func(a, b *tcp.Config) {
			a.CongestionControl, b.CongestionControl = "newreno", "newreno"
			a.DisableSACK, b.DisableSACK = true, true
		}},
		{"no-timestamps-2pct", 0.02, func(a, b *tcp.Config) {
			a.DisableTimestamps, b.DisableTimestamps = true, true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, tc.mut)
			cl, sv := p.connect(t, 3260)
			var mu sync.Mutex
			r := rand.New(rand.NewPCG(7, 7))
			drop := func([]byte) bool { mu.Lock(); defer mu.Unlock(); return r.Float64() < tc.rate }
			p.la.Drop, p.lb.Drop = drop, drop
			data := pattern(4<<20, 3)
			transfer(t, cl, sv, data)
			if cl.Stats.Retransmits.Load() == 0 {
				t.Fatal("no retransmissions under loss")
			}
			t.Logf("retransmits=%d fast=%d rto=%d dropped=%d", cl.Stats.Retransmits.Load(),
				cl.Stats.FastRetransmits.Load(), cl.Stats.Timeouts.Load(), p.la.Dropped.Load()+p.lb.Dropped.Load())
		})
	}
}

func TestMemPeerReset(t *testing.T) {
	p := newPair(t, nil)
	cl, sv := p.connect(t, 3260)
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	sv.Abort()
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	for i := 0; i < 10; i++ {
		_, err := cl.Read(buf)
		if errors.Is(err, tcp.ErrConnReset) {
			return
		}
		if err != nil {
			t.Fatalf("err %v, want reset", err)
		}
	}
	t.Fatal("no reset")
}

func TestMemHalfClose(t *testing.T) {
	p := newPair(t, nil)
	cl, sv := p.connect(t, 3260)
	cl.CloseWrite()
	sv.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := sv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %d %v, want EOF", n, err)
	}
	// The other direction still works after our FIN.
	msg := []byte("still talking")
	if _, err := sv.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("got %q %v", got, err)
	}
	sv.Close()
	cl.Close()
	waitState(t, cl, tcp.StateTimeWait)
	waitState(t, sv, tcp.StateClosed)
}

func TestMemRefused(t *testing.T) {
	p := newPair(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.a.Dial(ctx, netip.AddrPortFrom(ipB, 9))
	if !errors.Is(err, tcp.ErrConnRefused) {
		t.Fatalf("err %v, want refused", err)
	}
}
