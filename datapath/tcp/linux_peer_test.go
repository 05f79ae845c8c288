//go:build linux

package tcp_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/link/afpacket"
	"github.com/xtgt/xtgt/datapath/tcp"
	"github.com/xtgt/xtgt/datapath/tcp/internal/vethbed"
)

type linuxBed struct {
	*vethbed.Bed
	e    *tcp.Engine
	link *afpacket.Link
}

func newLinuxBed(t *testing.T, mut func(*tcp.Config)) *linuxBed {
	t.Helper()
	b := vethbed.New(t)
	var l *afpacket.Link
	if err := b.Do(b.NSEngine, func() (err error) {
		l, err = afpacket.Open(b.IfEngine, 16384, 2048)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	cfg := tcp.Config{Addrs: []netip.Addr{b.IPEngine, b.IP6Engine},
		Resolve: func(netip.Addr) (tcp.MAC, error) { return b.MACPeer, nil }}
	if os.Getenv("XTGT_TCP_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mut != nil {
		mut(&cfg)
	}
	e, err := tcp.NewEngine(l, cfg)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		l.Close()
	})
	return &linuxBed{Bed: b, e: e, link: l}
}

func (b *linuxBed) peerDial(t *testing.T, port uint16, rcvbuf int) *net.TCPConn {
	t.Helper()
	return b.peerDialAddr(t, netip.AddrPortFrom(b.IPEngine, port), rcvbuf)
}

func (b *linuxBed) peerDialAddr(t *testing.T, to netip.AddrPort, rcvbuf int) *net.TCPConn {
	t.Helper()
	var c net.Conn
	err := b.Do(b.NSPeer, func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.Dial("tcp", to.String())
		return err
	})
	if err != nil {
		t.Fatalf("kernel dial: %v", err)
	}
	tc := c.(*net.TCPConn)
	if rcvbuf > 0 {
		tc.SetReadBuffer(rcvbuf)
	}
	t.Cleanup(func() { tc.Close() })
	return tc
}

func (b *linuxBed) peerListen(t *testing.T, port uint16) net.Listener {
	t.Helper()
	var l net.Listener
	if err := b.Do(b.NSPeer, func() (err error) {
		l, err = net.Listen("tcp", netip.AddrPortFrom(b.IPPeer, port).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func (b *linuxBed) accept(t *testing.T, l *tcp.Listener) *tcp.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l.AcceptConn(ctx)
	if err != nil {
		t.Fatalf("engine accept: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stream is a deterministic pseudo-random byte stream of a given length.
type stream struct {
	r    *rand.PCG
	left int64
	buf  [8]byte
	nbuf int
}

func newStream(seed uint64, n int64) *stream { return &stream{r: rand.NewPCG(seed, 99), left: n} }

func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n := 0
	for n < len(p) {
		if s.nbuf == 0 {
			binary.LittleEndian.PutUint64(s.buf[:], s.r.Uint64())
			s.nbuf = 8
		}
		k := copy(p[n:], s.buf[8-s.nbuf:])
		s.nbuf -= k
		n += k
	}
	s.left -= int64(n)
	return n, nil
}

func streamSum(seed uint64, n int64) [32]byte {
	h := sha256.New()
	io.CopyBuffer(h, newStream(seed, n), make([]byte, 1<<20))
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func sumOf(h hash.Hash) (s [32]byte) { copy(s[:], h.Sum(nil)); return }

func bulkSize(t *testing.T) int64 {
	if v := os.Getenv("XTGT_TCP_BULK_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			t.Fatalf("XTGT_TCP_BULK_BYTES: %v", err)
		}
		return n
	}
	if testing.Short() {
		return 32 << 20
	}
	return 1 << 30
}

// pump writes the stream to w then half-closes; reads r to EOF and hashes. Both in parallel.
func pump(t *testing.T, wr io.Writer, closeWrite func() error, rd io.Reader, seed uint64, n int64) ([32]byte, int64) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(wr, newStream(seed, n), make([]byte, 256<<10))
		if err == nil {
			err = closeWrite()
		}
		errc <- err
	}()
	h := sha256.New()
	got, err := io.CopyBuffer(h, rd, make([]byte, 256<<10))
	if err != nil {
		t.Fatalf("read after %d bytes: %v", got, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	return sumOf(h), got
}

func TestLinuxBulkPassive(t *testing.T) {
	b := newLinuxBed(t, nil)
	l, err := b.e.Listen(3260)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	kc := b.peerDial(t, 3260, 0)
	ec := b.accept(t, l)
	n := bulkSize(t)
	want1, want2 := streamSum(1, n), streamSum(2, n)
	for _, dir := range []string{"kernel->engine", "engine->kernel"} {
		start := time.Now()
		var got [32]byte
		var cnt int64
		var want [32]byte
		if dir == "kernel->engine" {
			got, cnt = pump(t, kc, kc.CloseWrite, ec, 1, n)
			want = want1
		} else {
			got, cnt = pump(t, ec, ec.CloseWrite, kc, 2, n)
			want = want2
		}
		el := time.Since(start)
		if got != want || cnt != n {
			t.Fatalf("%s: %d bytes, checksum mismatch=%v", dir, cnt, got != want)
		}
		t.Logf("%s: %d MiB in %v (%.0f MB/s), retransmits=%d", dir, n>>20, el.Round(time.Millisecond),
			float64(n)/el.Seconds()/1e6, ec.Stats.Retransmits.Load())
	}
	ec.Close()
	waitState(t, ec, tcp.StateClosed, tcp.StateTimeWait)
}

func TestLinuxActiveOpen(t *testing.T) {
	b := newLinuxBed(t, nil)
	kl := b.peerListen(t, 5001)
	kch := make(chan net.Conn, 1)
	go func() { c, _ := kl.Accept(); kch <- c }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ec, err := b.e.Dial(ctx, netip.AddrPortFrom(b.IPPeer, 5001))
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	kc := (<-kch).(*net.TCPConn)
	defer kc.Close()
	info := ec.Info()
	if !info.Timestamps || !info.SACK || !info.WindowScal {
		t.Fatalf("options not negotiated with Linux: %+v", info)
	}
	const n = 16 << 20
	if got, _ := pump(t, ec, ec.CloseWrite, kc, 3, n); got != streamSum(3, n) {
		t.Fatal("engine->kernel mismatch")
	}
	if got, _ := pump(t, kc, kc.CloseWrite, ec, 4, n); got != streamSum(4, n) {
		t.Fatal("kernel->engine mismatch")
	}
}

func TestLinuxActiveRefused(t *testing.T) {
	b := newLinuxBed(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := b.e.Dial(ctx, netip.AddrPortFrom(b.IPPeer, 5002))
	if !errors.Is(err, tcp.ErrConnRefused) {
		t.Fatalf("err %v, want refused", err)
	}
}

func TestLinuxManyConnections(t *testing.T) {
	b := newLinuxBed(t, func(c *tcp.Config) { c.SendBuffer, c.RecvBuffer = 256<<10, 256<<10 })
	l, err := b.e.Listen(3260)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const conns, per = 64, 1 << 20
	// Engine side: echo every connection.
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
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		kc := b.peerDial(t, 3260, 0)
		wg.Add(1)
		go func(i int, kc *net.TCPConn) {
			defer wg.Done()
			kc.SetDeadline(time.Now().Add(60 * time.Second))
			go func() {
				io.Copy(kc, newStream(uint64(i), per))
				kc.CloseWrite()
			}()
			h := sha256.New()
			n, err := io.Copy(h, kc)
			if err != nil || n != per || sumOf(h) != streamSum(uint64(i), per) {
				errs <- fmt.Errorf("conn %d: %d bytes, err %v", i, n, err)
			}
		}(i, kc)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.e.Stats.ConnsActive.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("opened=%d active=%d (TIME_WAIT lingers on the closing side)", b.e.Stats.ConnsOpened.Load(), b.e.Stats.ConnsActive.Load())
}

func TestLinuxPeerReset(t *testing.T) {
	b := newLinuxBed(t, nil)
	l, _ := b.e.Listen(3260)
	defer l.Close()
	kc := b.peerDial(t, 3260, 0)
	ec := b.accept(t, l)
	kc.Write([]byte("x"))
	kc.SetLinger(0)
	kc.Close() // RST
	ec.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 10)
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = ec.Read(buf)
	}
	if !errors.Is(err, tcp.ErrConnReset) {
		t.Fatalf("read err %v, want reset", err)
	}
	waitState(t, ec, tcp.StateClosed)
	if _, err := ec.Write([]byte("y")); err == nil {
		t.Fatal("write after reset succeeded")
	}
}

func TestLinuxHalfClose(t *testing.T) {
	b := newLinuxBed(t, nil)
	l, _ := b.e.Listen(3260)
	defer l.Close()
	kc := b.peerDial(t, 3260, 0)
	ec := b.accept(t, l)
	kc.Write([]byte("request"))
	kc.CloseWrite()
	ec.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(ec)
	if err != nil || string(got) != "request" {
		t.Fatalf("engine read %q %v", got, err)
	}
	if ec.State() != tcp.StateCloseWait {
		t.Fatalf("state %v, want CLOSE-WAIT", ec.State())
	}
	// The engine still sends after the peer's FIN.
	if _, err := ec.Write([]byte("response")); err != nil {
		t.Fatal(err)
	}
	ec.Close()
	kc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err = io.ReadAll(kc)
	if err != nil || string(got) != "response" {
		t.Fatalf("kernel read %q %v", got, err)
	}
	waitState(t, ec, tcp.StateClosed)
}

func TestLinuxZeroWindow(t *testing.T) {
	b := newLinuxBed(t, func(c *tcp.Config) { c.SendBuffer = 4 << 20; c.MinRTO = 50 * time.Millisecond })
	l, _ := b.e.Listen(3260)
	defer l.Close()
	kc := b.peerDial(t, 3260, 0)
	kc.SetReadBuffer(32 << 10)
	ec := b.accept(t, l)
	const n = 8 << 20
	werr := make(chan error, 1)
	go func() { _, err := io.Copy(ec, newStream(9, n)); ec.CloseWrite(); werr <- err }()
	// The peer does not read: its window closes and the engine probes.
	deadline := time.Now().Add(15 * time.Second)
	for ec.Stats.ZeroWindowProbes.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p := ec.Stats.ZeroWindowProbes.Load(); p < 2 {
		t.Fatalf("zero-window probes %d; info %v", p, ec.Info())
	}
	kc.SetReadDeadline(time.Now().Add(60 * time.Second))
	h := sha256.New()
	got, err := io.Copy(h, kc)
	if err != nil || got != n || sumOf(h) != streamSum(9, n) {
		t.Fatalf("kernel read %d bytes, err %v", got, err)
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	t.Logf("zero-window probes: %d", ec.Stats.ZeroWindowProbes.Load())
}

func TestLinuxPeerVanishes(t *testing.T) {
	for _, tc := range []struct {
		name string
		data bool
	}{{"keepalive", false}, {"rto-giveup", true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newLinuxBed(t, func(c *tcp.Config) {
				c.KeepAliveIdle, c.KeepAliveInterval, c.KeepAliveCount = 300*time.Millisecond, 100*time.Millisecond, 3
				c.MinRTO, c.MaxRetries = 50*time.Millisecond, 4
			})
			l, _ := b.e.Listen(3260)
			defer l.Close()
			kc := b.peerDial(t, 3260, 0)
			_ = kc
			ec := b.accept(t, l)
			free0 := b.e.Stats.ConnsActive.Load()
			// The peer vanishes: its interface goes down, nothing answers any more.
			if out, err := exec.Command("ip", "-n", b.NSPeer, "link", "set", b.IfPeer, "down").CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if tc.data {
				go ec.Write(make([]byte, 64<<10))
			}
			ec.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err := ec.Read(make([]byte, 10))
			if !errors.Is(err, tcp.ErrTimeout) {
				t.Fatalf("read err %v, want timeout; info %v", err, ec.Info())
			}
			waitState(t, ec, tcp.StateClosed)
			ec.Close()
			if a := b.e.Stats.ConnsActive.Load(); a != free0-1 {
				t.Fatalf("active connections %d, want %d", a, free0-1)
			}
			t.Logf("keepalive probes=%d timeouts=%d", ec.Stats.KeepAliveProbes.Load(), ec.Stats.Timeouts.Load())
		})
	}
}

func TestLinuxIPv6(t *testing.T) {
	b := newLinuxBed(t, nil)
	l, err := b.e.Listen(3260)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	kc := b.peerDialAddr(t, netip.AddrPortFrom(b.IP6Engine, 3260), 0)
	ec := b.accept(t, l)
	if !ec.RemoteAddrPort().Addr().Is6() {
		t.Fatalf("remote %v", ec.RemoteAddrPort())
	}
	const n = 8 << 20
	if got, _ := pump(t, kc, kc.CloseWrite, ec, 21, n); got != streamSum(21, n) {
		t.Fatal("kernel->engine mismatch over IPv6")
	}
	if got, _ := pump(t, ec, ec.CloseWrite, kc, 22, n); got != streamSum(22, n) {
		t.Fatal("engine->kernel mismatch over IPv6")
	}
	// Active open over IPv6.
	kl := b.peerListen6(t, 5003)
	go func() {
		c, err := kl.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := b.e.Dial(ctx, netip.AddrPortFrom(b.IP6Peer, 5003))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if got, _ := pump(t, dc, dc.CloseWrite, dc, 23, 1<<20); got != streamSum(23, 1<<20) {
		t.Fatal("echo mismatch over IPv6 active open")
	}
}

func (b *linuxBed) peerListen6(t *testing.T, port uint16) net.Listener {
	t.Helper()
	var l net.Listener
	if err := b.Do(b.NSPeer, func() (err error) {
		l, err = net.Listen("tcp", netip.AddrPortFrom(b.IP6Peer, port).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
