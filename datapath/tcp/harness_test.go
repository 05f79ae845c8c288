package tcp

import (
	"net/netip"
	"testing"

	"github.com/xtgt/xtgt/datapath/link/memlink"
)

var (
	hMACPeer = MAC{2, 0, 0, 0, 0, 1}
	hMACEng  = MAC{2, 0, 0, 0, 0, 2}
	hIPPeer  = netip.MustParseAddr("198.18.0.1")
	hIPEng   = netip.MustParseAddr("198.18.0.2")
	hIP6Peer = netip.MustParseAddr("2001:db8::1")
	hIP6Eng  = netip.MustParseAddr("2001:db8::2")
)

// harness drives an engine synchronously (no Run goroutine) from a crafted-segment peer.
type harness struct {
	t    *testing.T
	e    *Engine
	peer *memlink.Link
	l    *Listener
	now  int64
	v6   bool
	buf  []byte
}

func newHarness(t *testing.T, mut func(*Config)) *harness {
	t.Helper()
	p, el := memlink.NewPair(hMACPeer, hMACEng, 512, 2048, 1500)
	cfg := Config{Addrs: []netip.Addr{hIPEng, hIP6Eng}}
	if mut != nil {
		mut(&cfg)
	}
	e, err := NewEngine(el, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, e: e, peer: p, now: 1e9, buf: make([]byte, 2048)}
	h.l = &Listener{e: e, port: 80, accept: make(chan *Conn, 16), done: make(chan struct{})}
	e.listeners[80] = h.l
	h.step()
	return h
}

func (h *harness) step() {
	h.e.now = h.now
	h.e.poll()
}

func (h *harness) advance(d int64) {
	// Step through time so the wheel fires each tick.
	for end := h.now + d; h.now < end; {
		h.now = min(h.now+int64(wheelTickNs), end)
		h.step()
	}
}

type segSpec struct {
	sport, dport uint16
	seq, ack     Seq
	flags        uint8
	wnd          uint16
	opts         []byte
	payload      []byte
	badCsum      bool
	mutate       func(frame []byte, tcpOff int)
}

// frame builds a crafted frame from the peer to the engine.
func (h *harness) frame(s segSpec) []byte {
	if s.sport == 0 {
		s.sport = 40000
	}
	if s.dport == 0 {
		s.dport = 80
	}
	if s.wnd == 0 && s.flags&FlagRST == 0 {
		s.wnd = 65535
	}
	src, dst := hIPPeer, hIPEng
	if h.v6 {
		src, dst = hIP6Peer, hIP6Eng
	}
	b := make([]byte, max(2048, EthHeaderLen+IPv6HeaderLen+TCPMaxHeaderLen+len(s.payload)))
	f := TCPFields{SrcPort: s.sport, DstPort: s.dport, Seq: s.seq, Ack: s.ack, Flags: s.flags, Window: s.wnd}
	off, total := writeHeaders(b, h.v6, hMACPeer, hMACEng, src, dst, &f, len(s.opts), len(s.payload), 1)
	copy(b[off+TCPHeaderLen:], s.opts)
	copy(b[off+TCPHeaderLen+len(s.opts):], s.payload)
	finishChecksum(b, off, total, h.v6, src, dst)
	if s.badCsum {
		b[off+tcpChecksumOffset] ^= 0x55
	}
	if s.mutate != nil {
		s.mutate(b, off)
	}
	return b[:total]
}

func (h *harness) inject(s segSpec) {
	h.t.Helper()
	h.injectRaw(h.frame(s))
}

func (h *harness) injectRaw(f []byte) {
	h.peer.Transmit([]TxFrame{{Buf: f}})
	h.step()
}

// out returns the segments the engine sent since the last call.
func (h *harness) out() []Segment {
	h.t.Helper()
	var segs []Segment
	frames := make([][]byte, 64)
	for {
		n := h.peer.Receive(frames, nil)
		if n == 0 {
			return segs
		}
		for _, f := range frames[:n] {
			var s Segment
			if err := ParseFrame(f, &s, true); err != nil {
				h.t.Fatalf("engine sent an unparsable frame: %v", err)
			}
			s.Payload = append([]byte(nil), s.Payload...)
			segs = append(segs, s)
		}
		h.peer.Release(frames[:n])
	}
}

func (h *harness) one() Segment {
	h.t.Helper()
	segs := h.out()
	if len(segs) != 1 {
		h.t.Fatalf("engine sent %d segments, want 1: %+v", len(segs), segs)
	}
	return segs[0]
}

func (h *harness) none() {
	h.t.Helper()
	if segs := h.out(); len(segs) != 0 {
		h.t.Fatalf("engine sent %d segments, want none: flags %#x", len(segs), segs[0].Flags)
	}
}

// synOpts returns MSS 1460, WS 7, SACK-permitted, TS(val, 0).
func synOpts(tsVal uint32) []byte {
	b := make([]byte, 20)
	n := putSynOptions(b, 1460, 7, true, true, tsVal, 0)
	return b[:n]
}

func tsOpt(val, ecr uint32) []byte {
	b := make([]byte, 12)
	putTimestamp(b, val, ecr)
	return b
}

// open performs a handshake with peer ISN isn and returns the engine's connection and its ISS.
func (h *harness) open(isn Seq, withOpts bool) (*Conn, Seq) {
	h.t.Helper()
	opts := []byte{optMSS, 4, 0x05, 0xb4} // MSS 1460 only
	if withOpts {
		opts = synOpts(100)
	}
	h.inject(segSpec{seq: isn, flags: FlagSYN, opts: opts})
	sa := h.one()
	if sa.Flags != FlagSYN|FlagACK || sa.Ack != isn+1 {
		h.t.Fatalf("want SYN-ACK ack %d, got flags %#x ack %d", isn+1, sa.Flags, sa.Ack)
	}
	var ack []byte
	if withOpts {
		ack = tsOpt(101, sa.Opts.TSVal)
	}
	h.inject(segSpec{seq: isn + 1, ack: sa.Seq + 1, flags: FlagACK, opts: ack})
	select {
	case c := <-h.l.accept:
		return c, sa.Seq
	default:
		h.t.Fatal("handshake did not complete")
	}
	return nil, 0
}

// queueData queues b on c's send stream as borrowed application data, as Writev does (the test
// keeps b unchanged until the engine has taken it).
func (c *Conn) queueData(b []byte) {
	c.sq.pend.push(pendBuf{b: b})
	c.sq.head.Add(uint64(len(b)))
}
