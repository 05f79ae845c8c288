package xsk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xtgt/xtgt/bpf"
	"github.com/xtgt/xtgt/internal/netnstest"
)

const jumboMTU = 9000

// rxFrameRoom is how much of a received packet the kernel puts in one UMEM
// frame: the frame less XDP_PACKET_HEADROOM (no UMEM headroom here).
func rxFrameRoom(s *Socket) int { return s.FrameSize() - 256 }

// newMBBed is a bed whose veth has MTU 9000 on both ends and whose socket
// is multi-buffer with 4 KiB frames (cfg's other fields as given, zero
// values: 1024 frames, rings of 512).
func newMBBed(t *testing.T, cfg Config) *bed {
	t.Helper()
	cfg.MultiBuffer = true
	if cfg.FrameSize == 0 {
		cfg.FrameSize = 4096
	}
	if cfg.NumFrames == 0 {
		cfg.NumFrames = 1024
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = 512
	}
	b := newBedPair(t, bpf.ModeNative, netnstest.PairConfig{MTU: jumboMTU}, cfg)
	if !b.xs.MultiBuffer() {
		// XDP_USE_SG came with Linux 6.6.
		t.Skipf("kernel refused XDP_USE_SG (zero-copy %v)", b.xs.ZeroCopy())
	}
	return b
}

// splitTx copies data into as few TX frames as hold it, More set on all
// but the last; the first carries the checksum request start/off.
func splitTx(t testing.TB, s *Socket, data []byte, start, off uint16) []Frame {
	t.Helper()
	var pkt []Frame
	for len(data) > 0 {
		f, ok := s.GetTxFrame()
		if !ok {
			t.Fatal("no TX frame")
		}
		f.Data = f.Data[:copy(f.Data, data)]
		data = data[len(f.Data):]
		f.More = len(data) > 0
		pkt = append(pkt, f)
	}
	pkt[0].CsumStart, pkt[0].CsumOffset = start, off
	return pkt
}

// sendPacket transmits pkt whole and waits for its completions.
func sendPacket(t testing.TB, s *Socket, pkt []Frame) {
	t.Helper()
	if n, err := s.Transmit(pkt); n != len(pkt) || err != nil {
		t.Fatalf("transmit: %d of %d, %v", n, len(pkt), err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for slices.ContainsFunc(pkt, s.InFlight) {
		if time.Now().After(deadline) {
			t.Fatal("packet still in flight after 2s")
		}
		if _, err := s.Poll(time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

// concat joins the frames' data.
func concat(frames []Frame) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, f.Data...)
	}
	return out
}

// incoming reads the frames arriving on B's raw socket fd (not those B
// sends) for the given time, at most max.
func incoming(fd int, within time.Duration, max int) [][]byte {
	tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 65536)
	var out [][]byte
	for deadline := time.Now().Add(within); time.Now().Before(deadline) && len(out) < max; {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
	return out
}

// tcpFrameN builds a B -> A Ethernet/IPv4/TCP frame to dport with payload
// bytes of payload (a pattern from tag).
func (b *bed) tcpFrameN(dport uint16, payload int, tag byte) []byte {
	f := make([]byte, 14+20+20+payload)
	ip := ethIPv4(f, b.p.MACA, b.p.MACB, b.p.AddrB.Addr(), b.p.AddrA.Addr(), 6, 5)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12] = 5 << 4
	tcp[13] = 0x10 // ACK
	for i := range tcp[20:] {
		tcp[20+i] = byte(i*13) ^ tag
	}
	return f
}

// waitRx waits (bounded) until n descriptors are on the RX ring.
func waitRx(t testing.TB, s *Socket, n int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); int(s.rx.ready()) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors on the RX ring after 2s, want %d", s.rx.ready(), n)
		}
		if _, err := s.Poll(10 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

func mustStats(t testing.TB, s *Socket) Stats {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestOpenMultiBufferFallback: with MultiBuffer, every binding is tried
// with XDP_USE_SG before any without; a kernel that refuses it yields a
// socket without multi-buffer; other errors end the attempts.
func TestOpenMultiBufferFallback(t *testing.T) {
	type attempt struct {
		bind     uint16
		wake, sg bool
	}
	var tries []attempt
	refuse := unix.EOPNOTSUPP
	defer func(f func(Config, uint16, bool, bool) (*Socket, error)) { openSocket = f }(openSocket)
	openSocket = func(cfg Config, bind uint16, wake, sg bool) (*Socket, error) {
		tries = append(tries, attempt{bind, wake, sg})
		if sg || bind == unix.XDP_ZEROCOPY {
			return nil, fmt.Errorf("xsk: bind: %w", refuse)
		}
		return &Socket{fd: -1, multiBuf: sg, maxTxFrags: 1}, nil
	}
	for _, e := range []unix.Errno{unix.EOPNOTSUPP, unix.EINVAL} {
		tries, refuse = nil, e
		s, err := Open(Config{Ifindex: 1, MultiBuffer: true})
		if err != nil {
			t.Fatal(err)
		}
		zc, cp := uint16(unix.XDP_ZEROCOPY), uint16(unix.XDP_COPY)
		want := []attempt{{zc, true, true}, {zc, false, true}, {cp, true, true}, {cp, false, true},
			{zc, true, false}, {zc, false, false}, {cp, true, false}}
		if !slices.Equal(tries, want) {
			t.Errorf("%v: attempts %v, want %v", e, tries, want)
		}
		if s.MultiBuffer() || s.MaxTxFrags() != 1 {
			t.Errorf("%v: MultiBuffer %v MaxTxFrags %d after the fallback", e, s.MultiBuffer(), s.MaxTxFrags())
		}
	}
	tries, refuse = nil, unix.EPERM
	if _, err := Open(Config{Ifindex: 1, MultiBuffer: true, Bind: BindCopy}); !errors.Is(err, unix.EPERM) || len(tries) != 1 {
		t.Errorf("EPERM: %v after %d attempts, want EPERM after 1", err, len(tries))
	}
	tries, refuse = nil, unix.EOPNOTSUPP
	if _, err := Open(Config{Ifindex: 1}); err != nil || len(tries) != 3 || slices.ContainsFunc(tries, func(a attempt) bool { return a.sg }) {
		t.Errorf("without MultiBuffer: %v, attempts %v", err, tries)
	}
}

func TestMultiBufferOpen(t *testing.T) {
	b := newBedPair(t, bpf.ModeNative, netnstest.PairConfig{MTU: jumboMTU},
		Config{NumFrames: 1024, RingSize: 512, FrameSize: 4096, MultiBuffer: true})
	s := b.xs
	// XDP_USE_SG in copy mode exists since Linux 6.6: on the kernels
	// this is verified on, it must be accepted.
	if !s.MultiBuffer() {
		t.Fatalf("XDP_USE_SG refused (zero-copy %v)", s.ZeroCopy())
	}
	if s.ZeroCopy() || s.MaxTxFrags() != copyMaxTxFrags {
		t.Errorf("zero-copy %v, MaxTxFrags %d, want copy mode and %d", s.ZeroCopy(), s.MaxTxFrags(), copyMaxTxFrags)
	}
	var feat devFeatures
	b.p.A.Run(t, func() (err error) {
		feat, err = netdevGet(b.p.IndexA)
		return err
	})
	t.Logf("veth: xdp-features %#x, xdp-zc-max-segs %d (reported only with zero-copy)", feat.xdp, feat.zcMaxSegs)
}

// TestMultiBufferTx: a 8900-byte UDP packet sent as three 4 KiB frames with
// More arrives as one packet with exactly its bytes; without More, the peer
// sees three frames, the pieces, and its socket nothing.
func TestMultiBufferTx(t *testing.T) {
	b := newMBBed(t, Config{TxChecksum: TxChecksumOffload})
	s := b.xs
	if !s.TxChecksumOffload() {
		t.Skip("kernel refused AF_XDP TX metadata (no XDP_UMEM_TX_METADATA_LEN)")
	}
	sink := b.udpSink(t, csumPort)
	capFd := b.rawSocket(t, unix.ETH_P_ALL)
	const size = 8900
	payload := size - 14 - 20 - 8
	buf := make([]byte, 65536)
	read := func() ([]byte, error) {
		sink.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _, err := sink.ReadFrom(buf)
		return buf[:n], err
	}

	t.Run("UDP with checksum offload", func(t *testing.T) {
		fr := b.l4FrameN(unix.IPPROTO_UDP, csumPort, 1, payload)
		st0 := mustStats(t, s)
		bad0 := snmp(t, b.p.B, "Udp", "InCsumErrors")
		pkt := splitTx(t, s, fr.data, fr.start, fr.off)
		if len(pkt) != 3 {
			t.Fatalf("%d frames for %d bytes, want 3", len(pkt), size)
		}
		sendPacket(t, s, pkt)
		got, err := read()
		if err != nil {
			t.Fatalf("peer socket: %v", err)
		}
		if !bytes.Equal(got, fr.data[14+20+8:]) {
			t.Fatalf("peer got %d bytes, want the %d sent", len(got), payload)
		}
		if d := snmp(t, b.p.B, "Udp", "InCsumErrors") - bad0; d != 0 {
			t.Errorf("InCsumErrors +%d", d)
		}
		frames := incoming(capFd, 200*time.Millisecond, 10)
		if !slices.ContainsFunc(frames, func(f []byte) bool { return len(f) == size && l4Tag(f) == 1 }) {
			t.Errorf("capture on the peer has no %d-byte frame", size)
		}
		st1 := mustStats(t, s)
		if st1.TxMultiPackets-st0.TxMultiPackets != 1 || st1.TxFrames-st0.TxFrames != 3 || st1.TxCsumRequests-st0.TxCsumRequests != 1 {
			t.Errorf("stats: +%d multi-buffer packets, +%d frames, +%d checksum requests; want 1, 3, 1",
				st1.TxMultiPackets-st0.TxMultiPackets, st1.TxFrames-st0.TxFrames, st1.TxCsumRequests-st0.TxCsumRequests)
		}
	})

	t.Run("UDP with its checksum computed", func(t *testing.T) {
		// No request: the peer's stack checks the checksum over all
		// three frames' bytes.
		fr := b.l4FrameN(unix.IPPROTO_UDP, csumPort, 2, payload)
		binary.BigEndian.PutUint16(fr.data[fr.start+fr.off:], fr.full)
		bad0 := snmp(t, b.p.B, "Udp", "InCsumErrors")
		sendPacket(t, s, splitTx(t, s, fr.data, 0, 0))
		got, err := read()
		if err != nil {
			t.Fatalf("peer socket: %v (InCsumErrors +%d)", err, snmp(t, b.p.B, "Udp", "InCsumErrors")-bad0)
		}
		if !bytes.Equal(got, fr.data[14+20+8:]) {
			t.Fatalf("peer got %d bytes, want the %d sent", len(got), payload)
		}
	})

	t.Run("TCP with checksum offload", func(t *testing.T) {
		// An ACK with 8846 bytes to a closed port: a good checksum
		// earns a RST.
		fr := b.l4FrameN(unix.IPPROTO_TCP, csumPort, 3, size-14-20-20)
		if !accepted(t, b, l4Cases[1], nil, func() { sendPacket(t, s, splitTx(t, s, fr.data, fr.start, fr.off)) }) {
			t.Fatal("peer dropped the TCP segment for its checksum")
		}
	})

	t.Run("without More the peer sees three frames", func(t *testing.T) {
		fr := b.l4FrameN(unix.IPPROTO_UDP, csumPort, 4, payload)
		binary.BigEndian.PutUint16(fr.data[fr.start+fr.off:], fr.full)
		pkt := splitTx(t, s, fr.data, 0, 0)
		for i := range pkt {
			pkt[i].More = false
		}
		incoming(capFd, 50*time.Millisecond, 100) // drain
		sendPacket(t, s, pkt)
		if got, err := read(); err == nil {
			t.Fatalf("peer socket got %d bytes", len(got))
		}
		frames := incoming(capFd, 200*time.Millisecond, 10)
		for _, f := range pkt {
			if !slices.ContainsFunc(frames, func(g []byte) bool { return bytes.Equal(g, f.Data) }) {
				t.Errorf("the %d-byte piece at %#x did not arrive as a frame of its own", len(f.Data), f.Addr)
			}
		}
	})

	if st := mustStats(t, s); st.Kernel.Tx_invalid_descs != 0 {
		t.Errorf("kernel saw %d invalid TX descriptors", st.Kernel.Tx_invalid_descs)
	}
}

// TestMultiBufferTxWhole: Transmit never leaves part of a packet on the TX
// ring. The kernel stops taking descriptors while the completion ring is
// full; filling it and then the TX ring leaves room for two descriptors.
func TestMultiBufferTxWhole(t *testing.T) {
	b := newMBBed(t, Config{NumFrames: 128, RingSize: 64})
	s := b.xs
	peer := b.rawSocket(t, etypeTest)
	f, ok := s.GetTxFrame()
	if !ok {
		t.Fatal("no TX frame")
	}
	filler := []Frame{b.testFrame(f, 1)}
	filler[0].Keep = true
	for i := 0; i < 1000 && (s.comp.ready() < 64 || s.tx.free() > 2); i++ {
		if n, err := s.Transmit(filler); n != 1 || err != nil {
			t.Fatalf("transmit: %d %v", n, err)
		}
	}
	if s.comp.ready() != 64 || s.tx.free() != 2 {
		t.Fatalf("completion ring %d of 64, TX ring room %d: could not fill the rings", s.comp.ready(), s.tx.free())
	}
	pkt := []Frame{b.testFrame(mustGet(t, s), 2), mustGet(t, s), mustGet(t, s)}
	pkt[1].Data, pkt[2].Data = pkt[1].Data[:1000], pkt[2].Data[:500]
	pkt[0].More, pkt[1].More = true, true
	want := concat(pkt)
	st0 := mustStats(t, s)
	prod := s.tx.prodVal()
	if n, err := s.Transmit(pkt); n != 0 || err != nil {
		t.Fatalf("3-frame packet with room for 2: queued %d, %v; want 0, nil", n, err)
	}
	if n, err := s.Transmit(append(filler, pkt...)); n != 1 || err != nil {
		t.Fatalf("frame and packet with room for 2: queued %d, %v; want 1, nil", n, err)
	}
	if s.tx.prodVal() != prod+1 || slices.ContainsFunc(pkt, s.InFlight) {
		t.Fatalf("TX ring producer +%d, packet in flight %v", s.tx.prodVal()-prod, slices.ContainsFunc(pkt, s.InFlight))
	}
	if st := mustStats(t, s); st.TxRingFull-st0.TxRingFull != 2 {
		t.Errorf("TxRingFull +%d, want 2", st.TxRingFull-st0.TxRingFull)
	}
	// Reap the completions: the kernel drains the TX ring, then takes
	// the packet.
	for deadline := time.Now().Add(2 * time.Second); s.txPending > 0 && time.Now().Before(deadline); {
		s.Poll(time.Millisecond)
	}
	sendPacket(t, s, pkt)
	s.PutTxFrame(filler[0])
	for _, f := range incoming(peer, time.Second, 1000) {
		if bytes.Equal(f, want) {
			return
		}
	}
	t.Fatalf("the %d-byte packet never reached the peer whole", len(want))
}

func mustGet(t testing.TB, s *Socket) Frame {
	t.Helper()
	f, ok := s.GetTxFrame()
	if !ok {
		t.Fatal("no TX frame")
	}
	return f
}

// TestMultiBufferKeep: each frame of a kept packet is kept; copy mode
// completes a packet's descriptors together, one completion each, in
// order, when the kernel frees the packet.
func TestMultiBufferKeep(t *testing.T) {
	b := newMBBed(t, Config{})
	s := b.xs
	peer := b.rawSocket(t, etypeTest)
	pkt := []Frame{b.testFrame(mustGet(t, s), 7), mustGet(t, s), mustGet(t, s)}
	for i := range pkt {
		pkt[i].Data = pkt[i].Data[:len(pkt[i].Data)-i*100]
		pkt[i].Keep = true
		pkt[i].More = i < len(pkt)-1
	}
	for i := range pkt[1].Data {
		pkt[1].Data[i] = byte(i)
	}
	want := concat(pkt)
	if n, err := s.Transmit(pkt); n != 3 || err != nil {
		t.Fatalf("transmit: %d %v", n, err)
	}
	t.Logf("completions right after the kick: %d", s.comp.ready())
	for i := 0; i < 200 && s.comp.ready() < 3; i++ {
		time.Sleep(time.Millisecond)
		s.Wakeup()
	}
	var addrs []uint64
	for i := range s.comp.ready() {
		addrs = append(addrs, s.comp.descs[(s.comp.consVal()+i)&s.comp.mask])
	}
	if !slices.Equal(addrs, []uint64{pkt[0].Addr, pkt[1].Addr, pkt[2].Addr}) {
		t.Fatalf("completion ring holds %#x, want the three frames' addresses %#x %#x %#x in order", addrs, pkt[0].Addr, pkt[1].Addr, pkt[2].Addr)
	}
	if n := s.Complete(); n != 3 {
		t.Fatalf("Complete reaped %d, want 3", n)
	}
	for i, f := range pkt {
		if s.InFlight(f) || onFree(s, f) {
			t.Errorf("frame %d: in flight %v, freed %v; want neither", i, s.InFlight(f), onFree(s, f))
		}
	}
	if k := keptNow(t, s); k != 3 {
		t.Errorf("TxKept %d, want 3", k)
	}
	got := incoming(peer, time.Second, 1)
	if len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatalf("peer got %d frames, want one of the packet's %d bytes", len(got), len(want))
	}
	// Sent again, unchanged; then given back.
	sendPacket(t, s, pkt)
	if got := incoming(peer, time.Second, 1); len(got) != 1 || !bytes.Equal(got[0], want) {
		t.Fatal("kept packet sent again did not arrive whole")
	}
	for _, f := range pkt {
		s.PutTxFrame(f)
	}
	for i, f := range pkt {
		if !onFree(s, f) {
			t.Errorf("frame %d not back in the pool", i)
		}
	}
	if k := keptNow(t, s); k != 0 {
		t.Errorf("TxKept %d, want 0", k)
	}
}

// TestMultiBufferBadPackets: Transmit refuses, whole, packets the kernel
// would drop or choke on; the packets before are queued.
func TestMultiBufferBadPackets(t *testing.T) {
	b := newMBBed(t, Config{TxChecksum: TxChecksumOffload})
	s := b.xs
	if !s.TxChecksumOffload() {
		t.Skip("kernel refused AF_XDP TX metadata")
	}
	peer := b.rawSocket(t, etypeTest)
	good := b.testFrame(mustGet(t, s), 9)
	good.Keep = true
	defer s.PutTxFrame(good)
	x, y := mustGet(t, s), mustGet(t, s)
	defer s.PutTxFrame(x)
	defer s.PutTxFrame(y)
	x.Data, y.Data = x.Data[:100], y.Data[:100]
	more := func(f Frame) Frame { f.More = true; return f }
	long := make([]Frame, s.MaxTxFrags()+1)
	for i := range long {
		long[i] = more(x)
	}
	long[len(long)-1].More = false
	cases := []struct {
		name string
		pkt  []Frame
	}{
		{"last frame with More", []Frame{more(x)}},
		{"last frame of several with More", []Frame{more(x), more(y)}},
		{"checksum request on a continuation frame", []Frame{more(x), {Addr: y.Addr, Data: y.Data, CsumStart: 14, CsumOffset: 20}}},
		{"checksum field past the first frame", []Frame{{Addr: x.Addr, Data: x.Data[:40], More: true, CsumStart: 34, CsumOffset: 6}, y}},
		{"empty frame inside", []Frame{more(x), {Addr: y.Addr, Data: y.Data[:0], More: true}, x}},
		{"frame outside UMEM inside", []Frame{more(x), {Addr: uint64(len(s.umem)), Data: y.Data}}},
		{fmt.Sprintf("%d frames", len(long)), long},
	}
	for _, c := range cases {
		n, err := s.Transmit(append([]Frame{good}, c.pkt...))
		if n != 1 || !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: queued %d, %v; want 1, ErrBadFrame", c.name, n, err)
		}
		if s.InFlight(x) || s.InFlight(y) {
			t.Fatalf("%s: part of the refused packet queued", c.name)
		}
		waitSent(t, s, good)
	}
	if tags := readTags(t, peer, len(cases)); slices.ContainsFunc(tags, func(v uint32) bool { return v != 9 }) {
		t.Errorf("peer got tags %v", tags)
	}
	// MaxTxFrags frames are fine.
	long = long[1:]
	long[0] = b.testFrame(more(good), 10)
	sendPacket(t, s, long)
	if st := mustStats(t, s); st.Kernel.Tx_invalid_descs != 0 {
		t.Errorf("kernel saw %d invalid TX descriptors", st.Kernel.Tx_invalid_descs)
	}

	t.Run("socket without multi-buffer", func(t *testing.T) {
		nb := newBed(t, bpf.ModeNative)
		if nb.xs.MultiBuffer() || nb.xs.MaxTxFrags() != 1 {
			t.Fatalf("MultiBuffer %v, MaxTxFrags %d without asking", nb.xs.MultiBuffer(), nb.xs.MaxTxFrags())
		}
		g := nb.testFrame(mustGet(t, nb.xs), 11)
		h := mustGet(t, nb.xs)
		h.Data = h.Data[:100]
		if n, err := nb.xs.Transmit([]Frame{g, more(h), h}); n != 1 || !errors.Is(err, ErrBadFrame) {
			t.Errorf("More without multi-buffer: queued %d, %v; want 1, ErrBadFrame", n, err)
		}
	})
}

// TestMultiBufferFragsLimit verifies the copy-mode limit on this kernel: a
// packet of MaxTxFrags frames arrives whole, and so does one of 18 (the
// MAX_SKB_FRAGS+1 a device with a linear skb part takes), queued on the
// ring directly. What the kernel does with 19 is logged (Linux 6.18: the
// packet is dropped whole, its descriptors counted invalid and completed).
func TestMultiBufferFragsLimit(t *testing.T) {
	b := newMBBed(t, Config{})
	s := b.xs
	peer := b.rawSocket(t, etypeTest)
	build := func(n int, tag uint32) []Frame {
		pkt := make([]Frame, n)
		for i := range pkt {
			pkt[i] = mustGet(t, s)
			pkt[i].Data = pkt[i].Data[:60]
			for j := range pkt[i].Data {
				pkt[i].Data[j] = byte(i + j)
			}
			pkt[i].More = i < n-1
		}
		pkt[0] = b.testFrame(pkt[0], tag)
		return pkt
	}
	arrived := func(want []byte) bool {
		return slices.ContainsFunc(incoming(peer, 500*time.Millisecond, 5), func(f []byte) bool { return bytes.Equal(f, want) })
	}
	// raw queues pkt's descriptors without Transmit's checks or
	// accounting and kicks; it returns the completions seen.
	raw := func(pkt []Frame) int {
		c0 := s.comp.ready()
		prod := s.tx.prodVal()
		for i, f := range pkt {
			var opts uint32
			if f.More {
				opts = unix.XDP_PKT_CONTD
			}
			s.tx.descs[(prod+uint32(i))&s.tx.mask] = unix.XDPDesc{Addr: f.Addr, Len: uint32(len(f.Data)), Options: opts}
		}
		s.txPending += len(pkt)
		atomic.StoreUint32(s.tx.prod, prod+uint32(len(pkt)))
		for range 50 {
			s.kickTx()
			time.Sleep(2 * time.Millisecond)
		}
		return int(s.comp.ready() - c0)
	}

	pkt := build(s.MaxTxFrags(), 1)
	sendPacket(t, s, pkt)
	if !arrived(concat(pkt)) {
		t.Fatalf("%d-frame packet did not arrive whole", len(pkt))
	}
	pkt = build(18, 2)
	if n := raw(pkt); n != 18 {
		t.Errorf("18-frame packet: %d completions, want 18", n)
	}
	if !arrived(concat(pkt)) {
		t.Fatal("18-frame packet did not arrive whole")
	}
	s.Complete()
	inv0 := mustStats(t, s).Kernel.Tx_invalid_descs
	pkt = build(19, 3)
	n := raw(pkt)
	whole := arrived(concat(pkt))
	t.Logf("19-frame packet: %d completions, arrived whole %v, kernel invalid TX descriptors +%d",
		n, whole, mustStats(t, s).Kernel.Tx_invalid_descs-inv0)
}

// TestMultiBufferRx: an 8000-byte TCP segment to the steered port arrives
// as several frames, all but the last with More, whose data together is
// the frame sent; Receive returns whole packets only.
func TestMultiBufferRx(t *testing.T) {
	b := newMBBed(t, Config{})
	s := b.xs
	tx := b.rawSocket(t, unix.ETH_P_ALL)
	big := b.tcpFrameN(steeredPort, 8000-54, 1)
	small := b.tcpFrame(steeredPort, 5, 2)
	per := (len(big) + rxFrameRoom(s) - 1) / rxFrameRoom(s)
	send := func(fs ...[]byte) {
		t.Helper()
		for _, f := range fs {
			if _, err := unix.Write(tx, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	frames := make([]Frame, 16)
	check := func(got []Frame, want []byte) {
		t.Helper()
		for i, f := range got {
			if f.More != (i < len(got)-1) {
				t.Errorf("frame %d of %d: More %v", i, len(got), f.More)
			}
		}
		if d := concat(got); !bytes.Equal(d, want) {
			t.Errorf("frames hold %d bytes, not the %d-byte frame sent", len(d), len(want))
		}
	}

	t.Run("one packet", func(t *testing.T) {
		st0 := mustStats(t, s)
		send(big)
		waitRx(t, s, per)
		n := s.Receive(frames)
		if n != per {
			t.Fatalf("Receive returned %d frames, want %d", n, per)
		}
		var sizes []int
		for _, f := range frames[:n] {
			sizes = append(sizes, len(f.Data))
		}
		t.Logf("%d-byte frame received as %d frames of %v bytes", len(big), n, sizes)
		check(frames[:n], big)
		s.ReleaseBatch(frames[:n])
		st1 := mustStats(t, s)
		if st1.RxMultiPackets-st0.RxMultiPackets != 1 || st1.RxFrames-st0.RxFrames != uint64(per) {
			t.Errorf("stats: +%d multi-buffer packets, +%d frames", st1.RxMultiPackets-st0.RxMultiPackets, st1.RxFrames-st0.RxFrames)
		}
	})

	t.Run("a batch stops before a packet it would cut", func(t *testing.T) {
		send(small, big, big)
		waitRx(t, s, 1+2*per)
		// Room for the small frame and part of the first big packet.
		n := s.Receive(frames[:per])
		if n != 1 || frames[0].More || !bytes.Equal(frames[0].Data, small) {
			t.Fatalf("Receive(%d) returned %d frames, want the small one only", per, n)
		}
		s.ReleaseBatch(frames[:n])
		// Room for one packet and a half.
		for i := range 2 {
			n = s.Receive(frames[:per+per/2+1])
			if n != per {
				t.Fatalf("big packet %d: Receive returned %d frames, want %d", i, n, per)
			}
			check(frames[:n], big)
			s.ReleaseBatch(frames[:n])
		}
	})

	t.Run("a packet longer than the batch is dropped", func(t *testing.T) {
		st0 := mustStats(t, s)
		send(big, small)
		waitRx(t, s, per+1)
		fill := s.fill.prodVal()
		n := s.Receive(frames[:per-1])
		if n != 1 || !bytes.Equal(frames[0].Data, small) {
			t.Fatalf("Receive(%d) returned %d frames, want the small one", per-1, n)
		}
		if d := s.fill.prodVal() - fill; d != uint32(per) {
			t.Errorf("%d frames back on the fill ring, want the dropped packet's %d", d, per)
		}
		s.ReleaseBatch(frames[:n])
		if st := mustStats(t, s); st.RxDropped-st0.RxDropped != 1 {
			t.Errorf("RxDropped +%d, want 1", st.RxDropped-st0.RxDropped)
		}
		// The dropped packet's frames are reused.
		send(big)
		waitRx(t, s, per)
		if n := s.Receive(frames); n != per {
			t.Fatalf("Receive returned %d frames, want %d", n, per)
		}
		check(frames[:per], big)
		s.ReleaseBatch(frames[:per])
	})

	t.Run("no allocations per packet", func(t *testing.T) {
		peer := b.rawSocket(t, etypeTest)
		buf := make([]byte, 65536)
		pkt := make([]Frame, 3)
		var lost int
		allocs := testing.AllocsPerRun(100, func() {
			unix.Write(tx, big)
			n := 0
			for range 1000 {
				s.Poll(10 * time.Millisecond)
				if n = s.Receive(frames); n > 0 {
					break
				}
			}
			if n != per {
				lost++
			}
			s.ReleaseBatch(frames[:n])
			for i := range pkt {
				f, ok := s.GetTxFrame()
				if !ok {
					lost++
					return
				}
				f.Data = f.Data[:3000]
				f.More = i < len(pkt)-1
				pkt[i] = f
			}
			copy(pkt[0].Data[0:6], b.p.MACB)
			copy(pkt[0].Data[6:12], b.p.MACA)
			pkt[0].Data[12], pkt[0].Data[13] = etypeTest>>8, etypeTest&0xff
			if k, _ := s.Transmit(pkt); k != len(pkt) {
				lost++
			}
			if k, _ := unix.Read(peer, buf); k != 9000 {
				lost++
			}
			s.Complete()
		})
		if lost > 0 {
			t.Fatalf("%d losses", lost)
		}
		if allocs != 0 {
			t.Errorf("%.1f allocations per received and transmitted multi-buffer packet, want 0", allocs)
		}
	})

	if st := mustStats(t, s); st.Kernel.Rx_dropped != 0 || st.Kernel.Rx_invalid_descs != 0 {
		t.Errorf("kernel: rx_dropped %d, rx_invalid_descs %d", st.Kernel.Rx_dropped, st.Kernel.Rx_invalid_descs)
	}
}

// TestMultiBufferTxChecksumSoftware: with XDP_UMEM_TX_SW_CSUM, copy mode
// computes the checksum over a packet's first frame only, so a
// multi-buffer copy-mode socket does not offer the offload in that mode.
// The kernel's behaviour is shown (logged) by forcing a request through.
func TestMultiBufferTxChecksumSoftware(t *testing.T) {
	b := newMBBed(t, Config{TxChecksum: TxChecksumSoftware})
	s := b.xs
	if !s.TxMetadata() {
		t.Skip("kernel refused AF_XDP TX metadata")
	}
	if s.TxChecksumOffload() {
		t.Fatal("checksum offload offered with XDP_UMEM_TX_SW_CSUM on a multi-buffer copy-mode socket")
	}
	fr := b.l4FrameN(unix.IPPROTO_UDP, csumPort, 1, 8900-42)
	pkt := splitTx(t, s, fr.data, fr.start, fr.off)
	if n, err := s.Transmit(pkt); n != 0 || !errors.Is(err, ErrNoChecksumOffload) {
		t.Fatalf("checksum request: queued %d, %v; want 0, ErrNoChecksumOffload", n, err)
	}
	for _, f := range pkt {
		s.PutTxFrame(f)
	}

	sink := b.udpSink(t, csumPort)
	s.txCsum = true // what the kernel would do
	defer func() { s.txCsum = false }()
	one := b.l4FrameN(unix.IPPROTO_UDP, csumPort, 2, 2000)
	if !accepted(t, b, l4Cases[0], sink, func() { sendPacket(t, s, splitTx(t, s, one.data, one.start, one.off)) }) {
		t.Fatal("single-frame packet with a software checksum request dropped")
	}
	ok := accepted(t, b, l4Cases[0], sink, func() { sendPacket(t, s, splitTx(t, s, fr.data, fr.start, fr.off)) })
	t.Logf("3-frame packet with a software checksum request: peer accepted it: %v", ok)
}
