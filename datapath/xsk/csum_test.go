package xsk

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/xtgt/xtgt/bpf"
)

// l4Frame is an A -> B Ethernet/IPv4/{TCP ACK, UDP} frame whose L4
// checksum field holds the folded pseudo-header sum (what a checksum
// offload request wants), with what to know about it.
type l4Frame struct {
	data       []byte
	proto      byte
	dport      uint16
	start, off uint16 // Frame.CsumStart, Frame.CsumOffset
	seed, full uint16 // the field as built; the correct checksum
}

func (b *bed) l4Frame(proto byte, dport uint16, tag uint32) l4Frame {
	return b.l4FrameN(proto, dport, tag, 8)
}

// l4FrameN is l4Frame with payload bytes of payload (at least 8): a
// pattern, then the tag and "xtgt".
func (b *bed) l4FrameN(proto byte, dport uint16, tag uint32, payload int) l4Frame {
	l4len := 8 + payload // UDP header + payload
	if proto == unix.IPPROTO_TCP {
		l4len = 20 + payload
	}
	f := make([]byte, 14+20+l4len)
	ip := ethIPv4(f, b.p.MACB, b.p.MACA, b.p.AddrA.Addr(), b.p.AddrB.Addr(), proto, 5)
	l4 := ip[20:]
	binary.BigEndian.PutUint16(l4[0:], 40000)
	binary.BigEndian.PutUint16(l4[2:], dport)
	fr := l4Frame{proto: proto, dport: dport, start: 14 + 20}
	if proto == unix.IPPROTO_TCP {
		binary.BigEndian.PutUint32(l4[4:], 0x01020304) // seq
		binary.BigEndian.PutUint32(l4[8:], 0x05060708) // ack
		l4[12] = 5 << 4
		l4[13] = 0x10 // ACK
		binary.BigEndian.PutUint16(l4[14:], 1024)
		fr.off = 16
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(l4len))
		fr.off = 6
	}
	for i := range l4[l4len-payload : l4len-8] {
		l4[l4len-payload+i] = byte(i*7) + byte(tag)
	}
	binary.BigEndian.PutUint32(l4[len(l4)-8:], tag)
	copy(l4[len(l4)-4:], "xtgt")

	pseudo := make([]byte, 0, 12+len(l4))
	pseudo = append(pseudo, ip[12:20]...) // source and destination
	pseudo = append(pseudo, 0, proto, byte(l4len>>8), byte(l4len))
	fr.seed = ^csum(pseudo) // folded, not inverted
	fr.full = csum(append(pseudo, l4...))
	if fr.full == 0 && proto == unix.IPPROTO_UDP {
		fr.full = 0xffff
	}
	binary.BigEndian.PutUint16(l4[fr.off:], fr.seed)
	fr.data = f
	return fr
}

// tag reads the tag of a frame built by l4Frame.
func l4Tag(f []byte) uint32 { return binary.BigEndian.Uint32(f[len(f)-8:]) }

// send builds fr in a TX frame of s and transmits it, with a checksum
// request if start/off are not zero.
func send(t *testing.T, s *Socket, fr l4Frame, start, off uint16) {
	t.Helper()
	f, ok := s.GetTxFrame()
	if !ok {
		t.Fatal("no TX frame")
	}
	f.Data = f.Data[:copy(f.Data, fr.data)]
	f.CsumStart, f.CsumOffset = start, off
	if n, err := s.Transmit([]Frame{f}); n != 1 || err != nil {
		t.Fatalf("transmit: %d %v", n, err)
	}
	waitSent(t, s, f)
}

// capture opens an AF_PACKET socket for IPv4 on B's veth with
// PACKET_AUXDATA (checksum status per frame).
func (b *bed) capture(t *testing.T) int {
	t.Helper()
	fd := b.rawSocket(t, unix.ETH_P_IP)
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		t.Fatal(err)
	}
	tv := unix.Timeval{Usec: 100000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fd
}

// captured waits (bounded) for the incoming frame with fr's protocol, port
// and tag on capture socket fd and returns it with its tp_status.
func captured(t *testing.T, fd int, fr l4Frame, tag uint32) ([]byte, uint32) {
	t.Helper()
	buf := make([]byte, 2048)
	oob := make([]byte, 256)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			continue // timeout: look again until the deadline
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); !ok || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		f := buf[:n]
		if len(f) != len(fr.data) || f[14+9] != fr.proto || binary.BigEndian.Uint16(f[14+20+2:]) != fr.dport || l4Tag(f) != tag {
			continue
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_PACKET && m.Header.Type == unix.PACKET_AUXDATA && len(m.Data) >= int(unsafe.Sizeof(unix.TpacketAuxdata{})) {
				aux := (*unix.TpacketAuxdata)(unsafe.Pointer(&m.Data[0]))
				return append([]byte(nil), f...), aux.Status
			}
		}
		t.Fatal("no PACKET_AUXDATA")
	}
	t.Fatalf("frame with tag %d never reached the peer's device", tag)
	return nil, 0
}

// waitCounter waits (bounded) for B's snmp counter to reach want.
func waitCounter(t *testing.T, b *bed, group, field string, want uint64) uint64 {
	t.Helper()
	var v uint64
	for range 100 {
		if v = snmp(t, b.p.B, group, field); v >= want {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return v
}

type l4Case struct {
	name  string
	proto byte
	group string // /proc/net/snmp group
	ok    string // counter of frames the peer accepted
}

var l4Cases = []l4Case{
	// UDP to a bound socket: InDatagrams counts deliveries. TCP ACK to a
	// closed port: a good checksum earns a RST (OutRsts).
	{"UDP", unix.IPPROTO_UDP, "Udp", "InDatagrams"},
	{"TCP", unix.IPPROTO_TCP, "Tcp", "OutRsts"},
}

// accepted sends a frame and reports whether the peer's stack accepted it
// (the accept counter moved) or dropped it for its checksum (InCsumErrors
// moved). It fails the test if neither happens. For UDP the checksum is
// verified, and InDatagrams counted, when the socket is read: sink is read
// once.
func accepted(t *testing.T, b *bed, c l4Case, sink net.PacketConn, sendIt func()) bool {
	t.Helper()
	ok0, bad0 := snmp(t, b.p.B, c.group, c.ok), snmp(t, b.p.B, c.group, "InCsumErrors")
	sendIt()
	if c.proto == unix.IPPROTO_UDP {
		sink.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 2048)
		sink.ReadFrom(buf) // a bad datagram is skipped (and counted) by the read
	}
	for range 100 {
		ok1, bad1 := snmp(t, b.p.B, c.group, c.ok), snmp(t, b.p.B, c.group, "InCsumErrors")
		switch {
		case ok1 > ok0 && bad1 == bad0:
			return true
		case bad1 > bad0 && ok1 == ok0:
			return false
		case ok1 > ok0 && bad1 > bad0:
			t.Fatalf("%s: both %s and InCsumErrors moved", c.group, c.ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: neither %s nor InCsumErrors moved", c.group, c.ok)
	return false
}

// udpSink binds port on B so that UDP frames are delivered (InDatagrams).
func (b *bed) udpSink(t *testing.T, port uint16) net.PacketConn {
	t.Helper()
	var c net.PacketConn
	b.p.B.Run(t, func() (err error) {
		c, err = net.ListenPacket("udp4", netip.AddrPortFrom(b.p.AddrB.Addr(), port).String())
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

const csumPort = 9100

// TestTxChecksumOffload: in copy mode on veth, a checksum request turns the
// frame into a CHECKSUM_PARTIAL skb. veth forwards it as such, the peer's
// stack trusts it without checking, and its capture shows the checksum not
// yet filled in (TP_STATUS_CSUMNOTREADY). The same frame without the
// request carries a partial sum that is wrong as a checksum: the peer
// drops it (InCsumErrors).
func TestTxChecksumOffload(t *testing.T) {
	b := newBedWith(t, bpf.ModeNative, Config{NumFrames: 1024, RingSize: 512, TxChecksum: TxChecksumOffload})
	s := b.xs
	if !s.TxMetadata() {
		t.Skip("kernel refused AF_XDP TX metadata (no XDP_UMEM_TX_METADATA_LEN)")
	}
	if !s.TxChecksumOffload() {
		t.Fatalf("TX metadata on but no checksum offload (zero-copy %v)", s.ZeroCopy())
	}
	sink := b.udpSink(t, csumPort)
	capFd := b.capture(t)

	t.Run("TX frames leave room for the metadata", func(t *testing.T) {
		f, ok := s.GetTxFrame()
		if !ok {
			t.Fatal("no TX frame")
		}
		defer s.PutTxFrame(f)
		if off := f.Addr & s.frameMask; off != TxMetadataLen || len(f.Data) != s.FrameSize()-TxMetadataLen ||
			&f.Data[0] != &s.umem[f.Addr] {
			t.Errorf("TX frame at chunk offset %d, %d bytes", off, len(f.Data))
		}
		// Nothing may start in the metadata: the kernel would read the
		// metadata from the chunk before.
		if n, err := s.Transmit([]Frame{{Addr: f.Addr - TxMetadataLen, Data: f.Data[:60]}}); n != 0 || !errors.Is(err, ErrBadFrame) {
			t.Errorf("frame at its chunk start: %d %v, want ErrBadFrame", n, err)
		}
		if n, err := s.Transmit([]Frame{{Addr: f.Addr, Data: f.Data[:60], CsumStart: 50, CsumOffset: 9}}); n != 0 || !errors.Is(err, ErrBadFrame) {
			t.Errorf("checksum past the end: %d %v, want ErrBadFrame", n, err)
		}
	})

	t.Run("veth does not advertise zero-copy checksum offload", func(t *testing.T) {
		var feat devFeatures
		b.p.A.Run(t, func() (err error) {
			feat, err = netdevGet(b.p.IndexA)
			return err
		})
		t.Logf("netdev %s: xdp-features %#x xsk-features %#x", b.p.IfA, feat.xdp, feat.xsk)
		if feat.xdp == 0 {
			t.Error("no xdp-features: the netdev answer was not parsed")
		}
		if feat.xsk&netdevXSKTxChecksum != 0 {
			t.Error("veth claims xsk tx-checksum")
		}
	})

	for i, c := range l4Cases {
		t.Run(c.name, func(t *testing.T) {
			fr := b.l4Frame(c.proto, csumPort, uint32(i))
			if fr.seed == fr.full {
				t.Fatal("partial sum equals the checksum: the test would prove nothing")
			}
			if accepted(t, b, c, sink, func() { send(t, s, fr, 0, 0) }) {
				t.Fatal("peer accepted the frame without the offload request: the test proves nothing")
			}
			if got, _ := captured(t, capFd, fr, uint32(i)); binary.BigEndian.Uint16(got[fr.start+fr.off:]) != fr.seed {
				t.Errorf("without request: checksum field %#04x, sent %#04x", binary.BigEndian.Uint16(got[fr.start+fr.off:]), fr.seed)
			}
			if !accepted(t, b, c, sink, func() { send(t, s, fr, fr.start, fr.off) }) {
				t.Fatal("peer dropped the frame sent with the offload request")
			}
			got, status := captured(t, capFd, fr, uint32(i))
			t.Logf("with request: field %#04x (partial %#04x, full %#04x), tp_status %#x", binary.BigEndian.Uint16(got[fr.start+fr.off:]), fr.seed, fr.full, status)
			if status&unix.TP_STATUS_CSUMNOTREADY == 0 {
				t.Errorf("peer's frame not CHECKSUM_PARTIAL (tp_status %#x)", status)
			}
		})
	}

	// A device without checksum offload: the kernel completes the
	// checksum before handing the frame to it, as it does for its own
	// CHECKSUM_PARTIAL skbs.
	t.Run("device without tx-checksumming", func(t *testing.T) {
		if out, err := b.p.A.Command("ethtool", "-K", b.p.IfA, "tx", "off").CombinedOutput(); err != nil {
			t.Skipf("ethtool -K %s tx off: %v %s", b.p.IfA, err, out)
		}
		defer b.p.A.Command("ethtool", "-K", b.p.IfA, "tx", "on").Run()
		for i, c := range l4Cases {
			fr := b.l4Frame(c.proto, csumPort, uint32(30+i))
			if !accepted(t, b, c, sink, func() { send(t, s, fr, fr.start, fr.off) }) {
				t.Fatalf("%s: peer dropped the frame", c.name)
			}
			got, status := captured(t, capFd, fr, uint32(30+i))
			if v := binary.BigEndian.Uint16(got[fr.start+fr.off:]); v != fr.full || status&unix.TP_STATUS_CSUMNOTREADY != 0 {
				t.Errorf("%s: checksum %#04x (want %#04x), tp_status %#x", c.name, v, fr.full, status)
			}
		}
	})
}

// TestTxChecksumSoftware: with XDP_UMEM_TX_SW_CSUM the kernel completes the
// checksum itself in copy mode. The frame reaches the peer with the full,
// correct checksum and as an ordinary frame (the peer verifies it), which
// proves that CsumStart and CsumOffset point where they should; a request
// starting 2 bytes late yields a wrong checksum the peer drops.
func TestTxChecksumSoftware(t *testing.T) {
	b := newBedWith(t, bpf.ModeNative, Config{NumFrames: 1024, RingSize: 512, TxChecksum: TxChecksumSoftware})
	s := b.xs
	if !s.TxChecksumOffload() {
		t.Skip("kernel refused AF_XDP TX metadata (no XDP_UMEM_TX_METADATA_LEN)")
	}
	sink := b.udpSink(t, csumPort)
	capFd := b.capture(t)
	for i, c := range l4Cases {
		t.Run(c.name, func(t *testing.T) {
			fr := b.l4Frame(c.proto, csumPort, uint32(10+i))
			if !accepted(t, b, c, sink, func() { send(t, s, fr, fr.start, fr.off) }) {
				t.Fatal("peer dropped the frame whose checksum the kernel computed")
			}
			got, status := captured(t, capFd, fr, uint32(10+i))
			if v := binary.BigEndian.Uint16(got[fr.start+fr.off:]); v != fr.full {
				t.Errorf("checksum %#04x, want %#04x (partial sum %#04x)", v, fr.full, fr.seed)
			}
			if status&unix.TP_STATUS_CSUMNOTREADY != 0 {
				t.Errorf("frame still CHECKSUM_PARTIAL (tp_status %#x)", status)
			}
			want := append([]byte(nil), fr.data...)
			binary.BigEndian.PutUint16(want[fr.start+fr.off:], fr.full)
			if string(got) != string(want) {
				t.Errorf("frame differs beyond the checksum:\n% x\n% x", got, want)
			}

			late := b.l4Frame(c.proto, csumPort, uint32(20+i))
			if accepted(t, b, c, sink, func() { send(t, s, late, late.start+2, late.off-2) }) {
				t.Error("peer accepted a checksum computed from the wrong start")
			}
		})
	}
	if st, err := s.Stats(); err != nil || st.TxCsumRequests != 2*uint64(len(l4Cases)) {
		t.Errorf("TxCsumRequests %d (%v), want %d", st.TxCsumRequests, err, 2*len(l4Cases))
	}
}
