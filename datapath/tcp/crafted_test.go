package tcp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestCraftedMalformedDropped(t *testing.T) {
	cases := []struct {
		name    string
		spec    segSpec
		raw     func(h *harness) []byte
		counter func(s *EngineStats) uint64
	}{
		{"bad checksum", segSpec{seq: 1, flags: FlagSYN, badCsum: true}, nil,
			func(s *EngineStats) uint64 { return s.BadChecksum.Load() }},
		{"data offset below 5", segSpec{seq: 1, flags: FlagSYN, mutate: func(b []byte, off int) {
			b[off+12] = 4 << 4
			fixCsum(b, off)
		}}, nil, func(s *EngineStats) uint64 { return s.BadOffset.Load() }},
		{"data offset beyond segment", segSpec{seq: 1, flags: FlagSYN, mutate: func(b []byte, off int) {
			b[off+12] = 15 << 4
			fixCsum(b, off)
		}}, nil, func(s *EngineStats) uint64 { return s.BadOffset.Load() }},
		{"option overruns header", segSpec{seq: 1, flags: FlagSYN, opts: []byte{1, 1, optMSS, 8}}, nil,
			func(s *EngineStats) uint64 { return s.BadOptions.Load() }},
		{"option length zero", segSpec{seq: 1, flags: FlagSYN, opts: []byte{optWScale, 0, 0, 0}}, nil,
			func(s *EngineStats) uint64 { return s.BadOptions.Load() }},
		{"SYN+FIN", segSpec{seq: 1, flags: FlagSYN | FlagFIN}, nil,
			func(s *EngineStats) uint64 { return s.BadFlags.Load() }},
		{"SYN+RST", segSpec{seq: 1, flags: FlagSYN | FlagRST}, nil,
			func(s *EngineStats) uint64 { return s.BadFlags.Load() }},
		{"IPv4 total length beyond frame", segSpec{seq: 1, flags: FlagSYN, mutate: func(b []byte, off int) {
			binary.BigEndian.PutUint16(b[EthHeaderLen+2:], 1400)
			b[EthHeaderLen+10], b[EthHeaderLen+11] = 0, 0
			binary.BigEndian.PutUint16(b[EthHeaderLen+10:], Checksum(b[EthHeaderLen:EthHeaderLen+20]))
		}}, nil, func(s *EngineStats) uint64 { return s.BadOffset.Load() }},
		{"IPv4 header checksum", segSpec{seq: 1, flags: FlagSYN, mutate: func(b []byte, off int) {
			b[EthHeaderLen+8]-- // TTL without fixing the checksum
		}}, nil, func(s *EngineStats) uint64 { return s.BadChecksum.Load() }},
		{"truncated frame", segSpec{}, func(h *harness) []byte {
			return h.frame(segSpec{seq: 1, flags: FlagSYN})[:EthHeaderLen+IPv4HeaderLen+10]
		}, func(s *EngineStats) uint64 { return s.ParseErrors.Load() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if tc.raw != nil {
				h.injectRaw(tc.raw(h))
			} else {
				h.inject(tc.spec)
			}
			h.none()
			if got := tc.counter(&h.e.Stats); got != 1 {
				t.Fatalf("counter = %d, want 1", got)
			}
			if len(h.e.conns) != 0 {
				t.Fatal("a connection was created")
			}
		})
	}
}

func fixCsum(b []byte, off int) {
	ip := IPv4(b[EthHeaderLen:])
	seg := b[off : ip.TotalLen()+EthHeaderLen]
	seg[16], seg[17] = 0, 0
	finishTCPChecksum(seg, ip.Src(), ip.Dst())
}

func TestCraftedHandshakeOptions(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		h := newHarness(t, nil)
		h.v6 = v6
		h.inject(segSpec{seq: 1000, flags: FlagSYN, opts: synOpts(77)})
		sa := h.one()
		if sa.Flags != FlagSYN|FlagACK || sa.Ack != 1001 {
			t.Fatalf("v6=%v: SYN-ACK flags %#x ack %d", v6, sa.Flags, sa.Ack)
		}
		o := sa.Opts
		wantMSS := 1460
		if v6 {
			wantMSS = 1440
		}
		if !o.HasMSS || int(o.MSS) != wantMSS || !o.HasWScale || o.WScale != 5 || !o.SACKPerm || !o.HasTS || o.TSEcr != 77 {
			t.Fatalf("v6=%v: SYN-ACK options %+v", v6, o)
		}
		// No options offered: none answered; window unscaled.
		h.inject(segSpec{sport: 40001, seq: 5, flags: FlagSYN})
		sa = h.one()
		if sa.Opts.HasWScale || sa.Opts.HasTS || sa.Opts.SACKPerm || !sa.Opts.HasMSS {
			t.Fatalf("v6=%v: options answered without offer: %+v", v6, sa.Opts)
		}
	}
}

func TestCraftedClosedPortReset(t *testing.T) {
	h := newHarness(t, nil)
	h.inject(segSpec{dport: 81, seq: 50, flags: FlagSYN})
	r := h.one()
	if r.Flags != FlagRST|FlagACK || r.Seq != 0 || r.Ack != 51 {
		t.Fatalf("reset %#x seq %d ack %d", r.Flags, r.Seq, r.Ack)
	}
	h.inject(segSpec{dport: 81, seq: 50, ack: 777, flags: FlagACK})
	r = h.one()
	if r.Flags != FlagRST || r.Seq != 777 {
		t.Fatalf("reset %#x seq %d", r.Flags, r.Seq)
	}
	h.inject(segSpec{dport: 81, seq: 50, flags: FlagRST})
	h.none()
}

func TestCraftedRSTHandling(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DisableTimestamps = true })
	c, iss := h.open(1000, false)
	// Out of window: silently dropped (RFC 5961 §3.2).
	h.inject(segSpec{seq: 1001 + 5000000, flags: FlagRST})
	h.none()
	if c.state != StateEstablished {
		t.Fatalf("state %v after out-of-window RST", c.state)
	}
	// In window but not exact: challenge ACK.
	h.inject(segSpec{seq: 1001 + 10, flags: FlagRST})
	ca := h.one()
	if ca.Flags != FlagACK || ca.Ack != 1001 || ca.Seq != iss+1 {
		t.Fatalf("challenge ack %#x ack %d seq %d", ca.Flags, ca.Ack, ca.Seq)
	}
	if c.state != StateEstablished || c.Stats.ChallengeAcks.Load() != 1 {
		t.Fatalf("state %v challenge acks %d", c.state, c.Stats.ChallengeAcks.Load())
	}
	// SYN on an established connection: challenge ACK (RFC 5961 §4.2).
	h.inject(segSpec{seq: 1001, flags: FlagSYN})
	if ca = h.one(); ca.Flags != FlagACK || ca.Ack != 1001 || c.state != StateEstablished {
		t.Fatalf("SYN challenge: %#x ack %d state %v", ca.Flags, ca.Ack, c.state)
	}
	// ACK for data never sent: challenge ACK, dropped (RFC 5961 §5.2).
	h.inject(segSpec{seq: 1001, ack: iss + 100, flags: FlagACK, payload: []byte("zz")})
	if ca = h.one(); ca.Flags != FlagACK || ca.Ack != 1001 {
		t.Fatalf("ack-too-far: %#x ack %d", ca.Flags, ca.Ack)
	}
	// Exact RST: connection reset.
	h.inject(segSpec{seq: 1001, flags: FlagRST})
	h.none()
	if c.state != StateClosed || c.Err() != ErrConnReset {
		t.Fatalf("state %v err %v", c.state, c.Err())
	}
	if len(h.e.conns) != 0 {
		t.Fatal("connection not removed")
	}
}

func TestCraftedSequenceWrap(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DisableTimestamps = true; c.DelayedAck = -1 })
	isn := Seq(0xffffff00)
	c, iss := h.open(isn, false)
	var want []byte
	seq := isn + 1
	for i := 0; i < 4; i++ {
		p := bytes.Repeat([]byte{byte('a' + i)}, 100)
		h.inject(segSpec{seq: seq, ack: iss + 1, flags: FlagACK, payload: p})
		seq += Seq(len(p))
		want = append(want, p...)
		a := h.one()
		if a.Ack != seq {
			t.Fatalf("ack %#x, want %#x", uint32(a.Ack), uint32(seq))
		}
	}
	if uint32(seq) > 0x1000 {
		t.Fatalf("test did not wrap: %#x", uint32(seq))
	}
	var got []byte
	for {
		v, ok := c.rq.pop()
		if !ok {
			break
		}
		got = append(got, v...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("delivered data differs across the wrap")
	}
}

func TestCraftedOutOfOrderAndSACK(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DelayedAck = -1 })
	h.inject(segSpec{seq: 1000, flags: FlagSYN, opts: synOpts(100)})
	sa := h.one()
	iss := sa.Seq
	h.inject(segSpec{seq: 1001, ack: iss + 1, flags: FlagACK, opts: tsOpt(101, sa.Opts.TSVal)})
	c := <-h.l.accept
	// Segment 2 before segment 1: duplicate ACK carrying a SACK block.
	h.inject(segSpec{seq: 1101, ack: iss + 1, flags: FlagACK, opts: tsOpt(102, 0), payload: make([]byte, 100)})
	d := h.one()
	if d.Ack != 1001 || d.Opts.NSACK != 1 || d.Opts.SACK[0] != (SACKBlock{1101, 1201}) {
		t.Fatalf("dup ack %d sack %+v", d.Ack, d.Opts)
	}
	h.inject(segSpec{seq: 1001, ack: iss + 1, flags: FlagACK, opts: tsOpt(103, 0), payload: make([]byte, 100)})
	a := h.one()
	if a.Ack != 1201 || a.Opts.NSACK != 0 {
		t.Fatalf("ack %d nsack %d", a.Ack, a.Opts.NSACK)
	}
	if c.rq.len() != 2 || c.Stats.OutOfOrderIn.Load() != 1 {
		t.Fatalf("queued %d ooo %d", c.rq.len(), c.Stats.OutOfOrderIn.Load())
	}
	// PAWS: an old timestamp is dropped with an ACK (RFC 7323 §5.3).
	h.inject(segSpec{seq: 1201, ack: iss + 1, flags: FlagACK, opts: tsOpt(50, 0), payload: []byte("x")})
	if a = h.one(); a.Ack != 1201 || c.Stats.PAWSDrops.Load() != 1 {
		t.Fatalf("PAWS: ack %d drops %d", a.Ack, c.Stats.PAWSDrops.Load())
	}
}

func TestCraftedRetransmitAndFastRetransmit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DisableTimestamps = true; c.DisableSACK = true; c.CongestionControl = "newreno" })
	c, iss := h.open(1000, false)
	data := make([]byte, 10*1460)
	for i := range data {
		data[i] = byte(i)
	}
	c.queueData(data)
	c.onKick()
	h.step()
	segs := h.out()
	if len(segs) != 10 {
		t.Fatalf("sent %d segments with IW10, want 10", len(segs))
	}
	// Ack the first segment; three duplicate ACKs then trigger fast retransmit of the second.
	h.inject(segSpec{seq: 1001, ack: iss + 1 + 1460, flags: FlagACK})
	h.out()
	for i := 0; i < 3; i++ {
		h.inject(segSpec{seq: 1001, ack: iss + 1 + 1460, flags: FlagACK})
	}
	r := h.out()
	if len(r) == 0 || r[0].Seq != iss+1+1460 || len(r[0].Payload) != 1460 || c.Stats.FastRetransmits.Load() != 1 {
		t.Fatalf("fast retransmit missing: %d segs, fast %d: seq %d (iss %d) len %d", len(r), c.Stats.FastRetransmits.Load(), r[0].Seq, iss, len(r[0].Payload))
	}
	// NewReno: further duplicate ACKs inflate cwnd (RFC 5681 §3.2 step 4); a partial ACK
	// retransmits the next hole (RFC 6582).
	h.inject(segSpec{seq: 1001, ack: iss + 1 + 2*1460, flags: FlagACK})
	r = h.out()
	if len(r) == 0 || r[0].Seq != iss+1+2*1460 {
		t.Fatalf("partial ack did not retransmit the next segment: %+v", r)
	}
	// Nothing more acknowledged: RTO retransmits snd.una.
	h.advance(int64(c.rto) + 2e6)
	r = h.out()
	if len(r) != 1 || r[0].Seq != iss+1+2*1460 || c.Stats.Timeouts.Load() != 1 {
		t.Fatalf("after RTO: %d segs, timeouts %d", len(r), c.Stats.Timeouts.Load())
	}
}

func TestCraftedZeroWindowProbe(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DisableTimestamps = true })
	h.inject(segSpec{seq: 1000, flags: FlagSYN})
	sa := h.one()
	iss := sa.Seq
	h.inject(segSpec{seq: 1001, ack: iss + 1, flags: FlagACK, wnd: 0, mutate: func(b []byte, off int) {
		b[off+14], b[off+15] = 0, 0
		fixCsum(b, off)
	}})
	c := <-h.l.accept
	c.queueData([]byte("hello"))
	c.onKick()
	h.step()
	if s := h.out(); len(s) != 0 {
		t.Fatalf("sent with zero window: %+v", s[0])
	}
	h.advance(1500e6)
	p := h.out()
	if len(p) == 0 || p[0].Seq != iss || len(p[0].Payload) != 0 {
		t.Fatalf("zero-window probe: %+v", p)
	}
	// Window opens: data flows.
	h.inject(segSpec{seq: 1001, ack: iss + 1, flags: FlagACK, wnd: 1000})
	d := h.out()
	if len(d) != 1 || string(d[0].Payload) != "hello" {
		t.Fatalf("after window opened: %+v", d)
	}
}

func TestCraftedTimeWait(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DisableTimestamps = true; c.TimeWait = 100e6 })
	c, iss := h.open(1000, false)
	c.appShutWr.Store(true)
	c.appClosed.Store(true)
	c.onKick()
	h.step()
	fin := h.one()
	if fin.Flags != FlagFIN|FlagACK || c.state != StateFinWait1 {
		t.Fatalf("fin %#x state %v", fin.Flags, c.state)
	}
	h.inject(segSpec{seq: 1001, ack: iss + 2, flags: FlagACK | FlagFIN})
	a := h.one()
	if a.Ack != 1002 || c.state != StateTimeWait {
		t.Fatalf("ack %d state %v", a.Ack, c.state)
	}
	// Retransmitted FIN in TIME-WAIT is re-acknowledged.
	h.inject(segSpec{seq: 1001, ack: iss + 2, flags: FlagACK | FlagFIN})
	if a = h.one(); a.Ack != 1002 {
		t.Fatalf("re-ack %d", a.Ack)
	}
	h.advance(150e6)
	if c.state != StateClosed || len(h.e.conns) != 0 {
		t.Fatalf("after 2MSL: state %v conns %d", c.state, len(h.e.conns))
	}
}

func TestCraftedSynBacklogBounded(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SynBacklog = 4 })
	for i := 0; i < 10; i++ {
		h.inject(segSpec{sport: uint16(50000 + i), seq: 1, flags: FlagSYN})
	}
	if n := len(h.out()); n != 4 {
		t.Fatalf("SYN-ACKs %d, want 4", n)
	}
	if h.e.Stats.SynBacklogDrops.Load() != 6 {
		t.Fatalf("drops %d", h.e.Stats.SynBacklogDrops.Load())
	}
	// Half-open connections give up after SynRetries and free their slots.
	h.advance(70e9)
	if len(h.e.conns) != 0 || h.l.halfOpen != 0 {
		t.Fatalf("conns %d halfOpen %d", len(h.e.conns), h.l.halfOpen)
	}
}
