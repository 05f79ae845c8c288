package xsk

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xtgt/xtgt/bpf"
	"github.com/xtgt/xtgt/internal/netnstest"
)

const steeredPort = 3260

// bed is two namespaces joined by veth; A carries the classifier (steering
// AddrA:3260) and an AF_XDP socket on queue 0; B is the peer.
type bed struct {
	p     *netnstest.Pair
	root  string
	steer *bpf.Steering
	xs    *Socket
}

func newBed(t testing.TB, mode bpf.Mode) *bed {
	t.Helper()
	return newBedWith(t, mode, Config{NumFrames: 1024, RingSize: 512})
}

// newBedWith is newBed with the socket's configuration (Ifindex and Queue
// are filled in).
func newBedWith(t testing.TB, mode bpf.Mode, cfg Config) *bed {
	t.Helper()
	return newBedPair(t, mode, netnstest.PairConfig{}, cfg)
}

// newBedPair is newBedWith with the veth pair's configuration (MTU).
func newBedPair(t testing.TB, mode bpf.Mode, pc netnstest.PairConfig, cfg Config) *bed {
	t.Helper()
	netnstest.RequireRoot(t)
	b := &bed{p: netnstest.NewPair(t, pc)}
	b.root = filepath.Join(bpf.DefaultPinRoot, "test-"+netnstest.UniqueName())
	t.Cleanup(func() { os.RemoveAll(b.root) })
	b.p.A.Run(t, func() (err error) {
		b.steer, err = bpf.Attach(b.p.IfA, bpf.Options{Mode: mode, PinRoot: b.root,
			Rules: []bpf.Rule{{Addr: b.p.AddrA.Addr(), Port: steeredPort}}})
		if err != nil {
			return err
		}
		cfg.Ifindex, cfg.Queue = b.p.IndexA, 0
		b.xs, err = Open(cfg)
		if err != nil {
			b.steer.Detach()
			return err
		}
		return b.xs.Register(b.steer)
	})
	t.Cleanup(func() {
		b.xs.Close()
		b.p.A.Do(func() error { return b.steer.Detach() })
	})
	return b
}

// rawSocket opens an AF_PACKET socket on B's veth for protocol proto
// (ETH_P_ALL for sending only).
func (b *bed) rawSocket(t testing.TB, proto uint16) int {
	t.Helper()
	var fd int
	b.p.B.Run(t, func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: b.p.IndexB})
	})
	t.Cleanup(func() { unix.Close(fd) })
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ethIPv4 fills f with an Ethernet header and a checksummed IPv4 header (IHL ihl, TTL 64,
// protocol proto, total length the rest of f) from src to dst, and returns the IP packet.
func ethIPv4(f []byte, dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, proto byte, ihl int) []byte {
	copy(f[0:6], dstMAC)
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	ip[8], ip[9] = 64, proto
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], csum(ip[:20]))
	return ip
}

// tcpFrame builds B -> A Ethernet/IPv4/TCP with the given IHL (5 normal).
func (b *bed) tcpFrame(dport uint16, ihl int, tag byte) []byte {
	f := make([]byte, 14+20+20+16)
	ip := ethIPv4(f, b.p.MACA, b.p.MACB, b.p.AddrB.Addr(), b.p.AddrA.Addr(), 6, ihl)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12] = 5 << 4
	tcp[13] = 0x10 // ACK
	tcp[20] = tag
	// TCP checksum over the pseudo-header, so the kernel takes the frame
	// all the way in.
	ph := make([]byte, 0, 12+len(tcp))
	ph = append(ph, ip[12:20]...) // source and destination
	ph = append(ph, 0, 6, byte(len(tcp)>>8), byte(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], csum(append(ph, tcp...)))
	return f
}

func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// receiveN polls the socket until n frames arrived (bounded), passing each
// to fn and releasing it.
func receiveN(t testing.TB, s *Socket, n int, within time.Duration, fn func(Frame)) int {
	t.Helper()
	frames := make([]Frame, 64)
	got := 0
	deadline := time.Now().Add(within)
	for got < n && time.Now().Before(deadline) {
		if _, err := s.Poll(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		k := s.Receive(frames)
		for _, f := range frames[:k] {
			if fn != nil {
				fn(f)
			}
		}
		s.ReleaseBatch(frames[:k])
		got += k
	}
	return got
}

func TestSteeringOnVeth(t *testing.T) {
	b := newBed(t, bpf.ModeNative)
	if b.xs.ZeroCopy() {
		t.Log("bound in zero-copy mode")
	} else {
		t.Log("bound in copy mode (veth has no zero-copy)")
	}

	t.Run("kernel TCP on another port completes", func(t *testing.T) {
		var ln net.Listener
		b.p.A.Run(t, func() (err error) {
			ln, err = net.Listen("tcp", netip.AddrPortFrom(b.p.AddrA.Addr(), 9000).String())
			return err
		})
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.SetDeadline(time.Now().Add(3 * time.Second))
				buf := make([]byte, 4)
				if _, err := c.Read(buf); err == nil {
					c.Write(buf)
				}
				c.Close()
			}
		}()
		b.p.B.Run(t, func() error {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			c.Write([]byte("ping"))
			buf := make([]byte, 4)
			if _, err := c.Read(buf); err != nil || string(buf) != "ping" {
				t.Errorf("echo %q %v", buf, err)
			}
			return nil
		})
		if n := receiveN(t, b.xs, 1, 200*time.Millisecond, nil); n != 0 {
			t.Errorf("%d frames of the kernel connection reached the AF_XDP socket", n)
		}
	})

	t.Run("ICMP echo reaches the kernel", func(t *testing.T) {
		b.p.B.Run(t, func() error {
			c, err := net.ListenPacket("ip4:icmp", b.p.AddrB.Addr().String())
			if err != nil {
				return err
			}
			defer c.Close()
			req := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'x', 't', 'g', 't'}
			binary.BigEndian.PutUint16(req[2:], csum(req))
			if _, err := c.WriteTo(req, &net.IPAddr{IP: b.p.AddrA.Addr().AsSlice()}); err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 1500)
			for range 10 {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					t.Errorf("no echo reply: %v", err)
					return nil
				}
				if n >= 8 && buf[0] == 0 && bytes.Equal(buf[4:n], req[4:]) {
					return nil
				}
			}
			t.Error("no matching echo reply")
			return nil
		})
	})

	t.Run("steered SYN arrives as a whole frame", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.p.B.Do(func() error {
				// Nobody answers: the SYN goes to the AF_XDP socket.
				c, err := net.DialTimeout("tcp", netip.AddrPortFrom(b.p.AddrA.Addr(), steeredPort).String(), 500*time.Millisecond)
				if err == nil {
					c.Close()
					t.Error("kernel answered a steered SYN")
				}
				return nil
			})
		}()
		var syn []byte
		receiveN(t, b.xs, 1, 3*time.Second, func(f Frame) {
			if syn == nil {
				syn = append([]byte(nil), f.Data...)
			}
		})
		<-done
		if syn == nil {
			t.Fatal("no frame on the AF_XDP socket")
		}
		ip := syn[14:]
		switch {
		case !bytes.Equal(syn[0:6], b.p.MACA) || !bytes.Equal(syn[6:12], b.p.MACB):
			t.Errorf("MACs %x -> %x", syn[6:12], syn[0:6])
		case binary.BigEndian.Uint16(syn[12:]) != 0x0800:
			t.Errorf("ethertype %x", syn[12:14])
		case len(syn) != 14+int(binary.BigEndian.Uint16(ip[2:])):
			t.Errorf("frame %d bytes, IP total length %d", len(syn), binary.BigEndian.Uint16(ip[2:]))
		case binary.BigEndian.Uint16(ip[20+2:]) != steeredPort || ip[20+13]&0x02 == 0:
			t.Errorf("not a SYN to %d: % x", steeredPort, ip[20:40])
		}
		// Drain retransmissions that raced with the dial's timeout.
		receiveN(t, b.xs, 1<<30, 300*time.Millisecond, nil)
	})

	t.Run("counters match the frames sent", func(t *testing.T) {
		tx := b.rawSocket(t, unix.ETH_P_ALL)
		v0, err := b.steer.Verdicts()
		if err != nil {
			t.Fatal(err)
		}
		r0, _ := b.steer.Rules()
		s0, _ := b.xs.Stats()
		const steered, other, malformed = 50, 20, 10
		var sent [][]byte
		for i := range steered {
			f := b.tcpFrame(steeredPort, 5, byte(i))
			sent = append(sent, f)
			if _, err := unix.Write(tx, f); err != nil {
				t.Fatal(err)
			}
		}
		for i := range other {
			if _, err := unix.Write(tx, b.tcpFrame(9001, 5, byte(i))); err != nil {
				t.Fatal(err)
			}
		}
		for i := range malformed {
			if _, err := unix.Write(tx, b.tcpFrame(steeredPort, 4, byte(i))); err != nil {
				t.Fatal(err)
			}
		}
		var got [][]byte
		n := receiveN(t, b.xs, steered, 3*time.Second, func(f Frame) { got = append(got, append([]byte(nil), f.Data...)) })
		time.Sleep(50 * time.Millisecond)
		n += receiveN(t, b.xs, 1, 100*time.Millisecond, func(f Frame) { got = append(got, append([]byte(nil), f.Data...)) }) // nothing more expected
		if n != steered {
			t.Fatalf("AF_XDP socket got %d frames, want %d", n, steered)
		}
		for i := range got {
			if !bytes.Equal(got[i], sent[i]) {
				t.Fatalf("frame %d differs from the one sent:\n% x\n% x", i, got[i], sent[i])
			}
		}
		v1, _ := b.steer.Verdicts()
		r1, _ := b.steer.Rules()
		s1, _ := b.xs.Stats()
		if d := v1.Redirected - v0.Redirected; d != steered {
			t.Errorf("redirected +%d, want %d", d, steered)
		}
		if d := v1.Malformed - v0.Malformed; d != malformed {
			t.Errorf("malformed +%d, want %d", d, malformed)
		}
		if d := v1.Passed - v0.Passed; d < other {
			t.Errorf("passed +%d, want at least %d", d, other)
		}
		if d := v1.NoSocket - v0.NoSocket; d != 0 {
			t.Errorf("no-socket +%d, want 0", d)
		}
		if d := r1[0].Packets - r0[0].Packets; d != steered {
			t.Errorf("rule %s +%d packets, want %d", r1[0].Match, d, steered)
		}
		if d := s1.RxFrames - s0.RxFrames; d != steered {
			t.Errorf("socket RxFrames +%d, want %d", d, steered)
		}
		if s1.Kernel.Rx_dropped != 0 {
			t.Errorf("kernel dropped %d", s1.Kernel.Rx_dropped)
		}
	})

	t.Run("transmitted frames arrive at the peer", func(t *testing.T) {
		const etype = 0x88b5 // IEEE local experimental
		rx := b.rawSocket(t, etype)
		const count = 20
		for i := range count {
			f, ok := b.xs.GetTxFrame()
			if !ok {
				t.Fatal("no TX frame")
			}
			f.Data = f.Data[:60]
			copy(f.Data[0:6], b.p.MACB)
			copy(f.Data[6:12], b.p.MACA)
			binary.BigEndian.PutUint16(f.Data[12:], etype)
			copy(f.Data[14:], "xtgt-tx")
			f.Data[21] = byte(i)
			if n, err := b.xs.Transmit([]Frame{f}); n != 1 || err != nil {
				t.Fatalf("transmit: %d %v", n, err)
			}
		}
		buf := make([]byte, 2048)
		for i := range count {
			n, err := unix.Read(rx, buf)
			if err != nil {
				t.Fatalf("peer got %d of %d frames: %v", i, count, err)
			}
			if n < 22 || string(buf[14:21]) != "xtgt-tx" || buf[21] != byte(i) {
				t.Fatalf("frame %d: % x", i, buf[:n])
			}
		}
		deadline := time.Now().Add(2 * time.Second)
		for b.xs.txPending > 0 && time.Now().Before(deadline) {
			b.xs.Poll(10 * time.Millisecond)
		}
		if b.xs.txPending != 0 {
			t.Errorf("%d TX frames never completed", b.xs.txPending)
		}
	})

	t.Run("no allocations per frame", func(t *testing.T) {
		tx := b.rawSocket(t, unix.ETH_P_ALL)
		peer := b.rawSocket(t, 0x88b5)
		in := b.tcpFrame(steeredPort, 5, 7)
		frames := make([]Frame, 16)
		one := make([]Frame, 1)
		buf := make([]byte, 2048)
		var lost int
		allocs := testing.AllocsPerRun(200, func() {
			unix.Write(tx, in)
			n := 0
			for range 1000 {
				b.xs.Poll(10 * time.Millisecond)
				if n = b.xs.Receive(frames); n > 0 {
					break
				}
			}
			if n == 0 {
				lost++
			}
			b.xs.ReleaseBatch(frames[:n])
			f, ok := b.xs.GetTxFrame()
			if !ok {
				lost++
				return
			}
			f.Data = f.Data[:60]
			copy(f.Data[0:6], b.p.MACB)
			copy(f.Data[6:12], b.p.MACA)
			f.Data[12], f.Data[13] = 0x88, 0xb5
			one[0] = f
			b.xs.Transmit(one)
			unix.Read(peer, buf)
			b.xs.Complete()
		})
		if lost > 0 {
			t.Fatalf("%d frames lost", lost)
		}
		if allocs != 0 {
			t.Errorf("%.1f allocations per received+transmitted frame, want 0", allocs)
		}
	})
}

func TestNoSocketFallsBackToKernel(t *testing.T) {
	b := newBed(t, bpf.ModeGeneric)
	if b.steer.Mode() != bpf.ModeGeneric {
		t.Fatalf("mode %s", b.steer.Mode())
	}
	// Close the socket: the kernel drops it from the XSKMAP and steered
	// traffic falls back to the kernel, which now answers a listener.
	b.xs.Close()
	var ln net.Listener
	b.p.A.Run(t, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(b.p.AddrA.Addr(), steeredPort).String())
		return err
	})
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	b.p.B.Run(t, func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	v, _ := b.steer.Verdicts()
	if v.NoSocket == 0 || v.Redirected != 0 {
		t.Errorf("verdicts %+v: want no-socket > 0 and nothing redirected", v)
	}
}

func TestDetachLeavesNothing(t *testing.T) {
	b := newBed(t, bpf.ModeAuto)
	dir := b.steer.PinDir()
	b.xs.Close()
	b.p.A.Run(t, func() error { return b.steer.Detach() })
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("pin dir %s remains: %v", dir, err)
	}
	if _, err := os.Stat(b.root); !os.IsNotExist(err) {
		t.Errorf("pin root %s remains: %v", b.root, err)
	}
	out, err := b.p.A.Command("ip", "-d", "link", "show", b.p.IfA).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("xdp")) {
		t.Errorf("XDP still on %s: %s %v", b.p.IfA, out, err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, c := range []Config{
		{Ifindex: 1, FrameSize: 1000},
		{Ifindex: 1, RingSize: 100},
		{Ifindex: 1, NumFrames: 8192, RingSize: 1024},
		{Ifindex: 0},
		{Ifindex: 1, TxChecksum: 7},
	} {
		if _, err := Open(c); err == nil {
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
}

func bdRule(b *bed) bpf.Rule { return bpf.Rule{Addr: b.p.AddrA.Addr(), Port: steeredPort} }
