package tcp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

func naiveChecksum(b []byte) uint16 {
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

func TestChecksumRFC1071(t *testing.T) {
	// RFC 1071 §3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := checksumFold(checksumAdd(0, b)); got != 0xddf2 {
		t.Fatalf("sum %#x, want 0xddf2", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		if got, want := Checksum(buf), naiveChecksum(buf); got != want {
			t.Fatalf("len %d: %#x want %#x", n, got, want)
		}
	}
	ff := make([]byte, 4096)
	for i := range ff {
		ff[i] = 0xff
	}
	if got, want := Checksum(ff), naiveChecksum(ff); got != want {
		t.Fatalf("all-ones: %#x want %#x", got, want)
	}
}

func TestParseFrameRoundTrip(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		h := &harness{v6: v6}
		f := h.frame(segSpec{seq: 7, ack: 9, flags: FlagACK | FlagPSH, opts: tsOpt(1, 2), payload: []byte("abc")})
		var s Segment
		if err := ParseFrame(f, &s, true); err != nil {
			t.Fatal(err)
		}
		if s.Seq != 7 || s.Ack != 9 || s.Flags != FlagACK|FlagPSH || string(s.Payload) != "abc" ||
			!s.Opts.HasTS || s.Opts.TSVal != 1 || s.Opts.TSEcr != 2 || s.Src.Is6() != v6 {
			t.Fatalf("v6=%v: %+v", v6, s)
		}
		if a := testing.AllocsPerRun(100, func() { _ = ParseFrame(f, &s, true) }); a != 0 {
			t.Fatalf("ParseFrame allocates %v", a)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	h := &harness{}
	f.Add(h.frame(segSpec{seq: 1, flags: FlagSYN, opts: synOpts(5)}))
	f.Add(h.frame(segSpec{seq: 1, ack: 2, flags: FlagACK, payload: []byte("data")}))
	sack := make([]byte, 40)
	n := putSACK(sack, []SACKBlock{{1, 2}, {3, 4}, {5, 6}})
	f.Add(h.frame(segSpec{seq: 1, ack: 2, flags: FlagACK, opts: sack[:n+n%4]}))
	h6 := &harness{v6: true}
	f.Add(h6.frame(segSpec{seq: 1, flags: FlagSYN, opts: synOpts(5)}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Segment
		if err := ParseFrame(b, &s, true); err != nil {
			return
		}
		if s.Opts.NSACK > maxSACKBlocks || s.Opts.WScale > maxWScale {
			t.Fatal("option bounds")
		}
		// The payload must be a view inside the frame.
		if len(s.Payload) > len(b) || (len(s.Payload) > 0 && cap(s.Payload) > cap(b)) {
			t.Fatal("payload outside the frame")
		}
		_ = ParseFrame(b, &s, false)
	})
}

// FuzzParseMultiBuffer parses arbitrary bytes split into a first frame and continuation
// frames at fuzzed points: never a panic, and payload views stay inside their frames.
func FuzzParseMultiBuffer(f *testing.F) {
	h := &harness{}
	f.Add(h.frame(segSpec{seq: 1, ack: 2, flags: FlagACK, payload: make([]byte, 3000)}), uint16(70), uint16(1500))
	f.Add(h.frame(segSpec{seq: 1, ack: 2, flags: FlagACK, payload: []byte("data")}), uint16(55), uint16(57))
	f.Add([]byte{}, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, c1, c2 uint16) {
		a, z := min(int(c1), len(b)), min(int(c2), len(b))
		if a > z {
			a, z = z, a
		}
		more := [][]byte{b[a:z:z], b[z:]}
		for _, mode := range []int{csumVerify, csumPartial, csumTrust} {
			var s Segment
			if err := parseFrame(b[:a:a], more, &s, mode); err != nil && err != errPartialChecksum {
				continue
			}
			if len(s.Payload) > a || s.MoreLen != len(b)-a || s.DataLen() != len(s.Payload)+len(b)-a {
				t.Fatal("payload accounting")
			}
		}
	})
}

// FuzzSegmentInput feeds arbitrary TCP headers and payloads (with valid checksums) to an
// established connection and to a listener: the engine must never panic and must keep its
// invariants.
func FuzzSegmentInput(f *testing.F) {
	f.Add(uint32(0), uint32(0), uint8(FlagACK), uint16(1000), []byte{}, []byte("x"), uint8(0))
	f.Add(uint32(1), uint32(1), uint8(FlagRST), uint16(0), []byte{}, []byte{}, uint8(1))
	f.Add(uint32(500), uint32(0), uint8(FlagSYN|FlagFIN), uint16(1), []byte{2, 4, 0, 0}, []byte{}, uint8(0))
	f.Add(uint32(1<<31), uint32(7), uint8(FlagACK|FlagFIN), uint16(65535), tsOpt(1, 1), []byte("abcdef"), uint8(1))
	f.Add(uint32(3000), uint32(0), uint8(FlagACK), uint16(10), []byte{5, 10, 0, 0, 0, 1, 0, 0, 0, 9, 1, 1}, []byte("zz"), uint8(0))
	f.Fuzz(func(t *testing.T, dseq, dack uint32, flags uint8, wnd uint16, opts, payload []byte, tgt uint8) {
		if len(opts) > 40 || len(payload) > 1400 {
			return
		}
		opts = append([]byte(nil), opts...)
		for len(opts)%4 != 0 {
			opts = append(opts, optNOP)
		}
		h := newHarness(t, func(c *Config) { c.DelayedAck = -1 })
		c, iss := h.open(1000, true)
		c.queueData(make([]byte, 5000))
		c.onKick()
		h.step()
		h.out()
		sport := uint16(40000)
		if tgt%2 == 1 {
			sport = 40001 // listener / no connection
		}
		spec := segSpec{sport: sport, seq: Seq(1001 + dseq), ack: iss + 1 + Seq(dack), flags: flags, wnd: wnd, opts: opts, payload: payload}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			h.inject(spec)
			h.advance(3e9)
			h.out()
		}()
		if c.viewsOut < 0 || c.rcvHeld < 0 || c.oooBytes < 0 || c.sndUna.GT(c.sndMax) || c.sndNxt.GT(c.sndMax) {
			t.Fatalf("invariants: views %d held %d ooo %d una %d nxt %d max %d", c.viewsOut, c.rcvHeld, c.oooBytes, c.sndUna, c.sndNxt, c.sndMax)
		}
	})
}

// TestSendQueueCopySum checks the one-copy paths of the send queue: new data taken from queued
// pieces of odd and even lengths (staged and borrowed), and resends copied out of the retained
// frames, each with the fused checksum equal to a plain sum of the same bytes.
func TestSendQueueCopySum(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 9000)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for _, pieces := range [][]int{{9000}, {1, 2, 3, 4093, 4901}, {1447, 1, 1449, 6103}, {7, 8993}} {
		for _, segLen := range []int{1, 3, 1448, 1449, 2000} {
			q := newSendQueue(4096, 64)
			at := 0
			for k, n := range pieces {
				p := data[at : at+n]
				if k%2 == 1 && n <= 4096 {
					a, b, ok := q.stage.put(p)
					if !ok {
						t.Fatal("stage full")
					}
					q.pend.push(pendBuf{b: a, staged: true})
					if b != nil {
						q.pend.push(pendBuf{b: b, staged: true})
					}
				} else {
					q.pend.push(pendBuf{b: p})
				}
				q.head.Add(uint64(n))
				at += n
				// Take what is queued so far in segments, as the engine does.
				for q.taken.Load()+uint64(segLen) <= q.head.Load() {
					idx := q.taken.Load()
					dst := make([]byte, segLen)
					sc := sumCopier{on: true}
					q.takeNew(dst, &sc)
					if !bytes.Equal(dst, data[idx:idx+uint64(segLen)]) {
						t.Fatalf("pieces %v seg %d: take at %d differs", pieces, segLen, idx)
					}
					if got, want := checksumFold(sc.sum), checksumFold(checksumAdd(0, dst)); got != want {
						t.Fatalf("pieces %v seg %d: take at %d sum %#x want %#x", pieces, segLen, idx, got, want)
					}
					q.segs.push(retSeg{idx: idx, data: dst, frame: dst})
				}
			}
			if q.stage.tail.Load() > q.stage.head.Load() {
				t.Fatal("stage freed past its head")
			}
			sent := q.taken.Load()
			for _, start := range []uint64{0, 1, 2, uint64(segLen) - 1, uint64(segLen), sent / 2, sent - 1} {
				for _, n := range []int{1, 2, 31, 1448, 1449, 3000} {
					if start+uint64(n) > sent || start >= sent {
						continue
					}
					dst := make([]byte, n)
					sc := sumCopier{on: true}
					q.copySent(dst, start, &sc)
					if !bytes.Equal(dst, data[start:start+uint64(n)]) {
						t.Fatalf("pieces %v seg %d: resend %d+%d differs", pieces, segLen, start, n)
					}
					if got, want := checksumFold(sc.sum), checksumFold(checksumAdd(0, dst)); got != want {
						t.Fatalf("pieces %v seg %d: resend %d+%d sum %#x want %#x", pieces, segLen, start, n, got, want)
					}
				}
			}
		}
	}
}

// TestParseMultiBuffer parses packets whose payload continues in further frames, split at odd
// and even points: the checksum is verified across the pieces, a corrupted continuation byte
// is caught, and the IP length must match the pieces exactly.
func TestParseMultiBuffer(t *testing.T) {
	h := newHarness(t, nil)
	payload := make([]byte, 5000)
	for i := range payload {
		payload[i] = byte(i*7 + 3)
	}
	for _, v6 := range []bool{false, true} {
		h.v6 = v6
		full := h.frame(segSpec{seq: 1, ack: 1, flags: FlagACK, payload: payload})
		hdr := len(full) - len(payload)
		for _, cuts := range [][]int{{hdr + 1}, {hdr + 1447, hdr + 1448}, {hdr + 2, hdr + 3, hdr + 4001}} {
			var pieces [][]byte
			prev := 0
			for _, c := range cuts {
				pieces = append(pieces, full[prev:c])
				prev = c
			}
			pieces = append(pieces, full[prev:])
			var s Segment
			if err := parseFrame(pieces[0], pieces[1:], &s, csumVerify); err != nil {
				t.Fatalf("v6=%v cuts %v: %v", v6, cuts, err)
			}
			got := append([]byte(nil), s.Payload...)
			for _, m := range s.More {
				got = append(got, m...)
			}
			if !bytes.Equal(got, payload) || s.DataLen() != len(payload) || s.Len() != len(payload) {
				t.Fatalf("v6=%v cuts %v: payload differs", v6, cuts)
			}
			last := pieces[len(pieces)-1]
			last[len(last)-1] ^= 0x40
			if err := parseFrame(pieces[0], pieces[1:], &s, csumVerify); !errors.Is(err, ErrTCPChecksum) {
				t.Fatalf("v6=%v cuts %v: corrupted continuation: %v", v6, cuts, err)
			}
			last[len(last)-1] ^= 0x40
			if err := parseFrame(pieces[0], pieces[1:len(pieces)-1], &s, csumVerify); !errors.Is(err, ErrIPHeader) {
				t.Fatalf("v6=%v cuts %v: missing continuation: %v", v6, cuts, err)
			}
		}
	}
}
