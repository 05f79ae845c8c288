package tcp

import (
	"testing"
)

// recvRound lets the engine take what the peer sent, releases every delivered view as the
// application would, and drains the engine's answers at the peer.
func recvRound(h *harness, c *Conn, frames [][]byte) {
	h.step()
	for {
		v, ok := c.rq.pop()
		if !ok {
			break
		}
		c.rel.push(v)
	}
	c.onKick()
	h.step()
	n := h.peer.Receive(frames, nil)
	h.peer.Release(frames[:n])
}

// sendRound queues payload on c, lets the engine send it, drains the peer and answers with ack.
func sendRound(h *harness, c *Conn, payload []byte, frames [][]byte, ack []TxFrame) {
	c.queueData(payload)
	c.onKick()
	h.step()
	n := h.peer.Receive(frames, nil)
	h.peer.Release(frames[:n])
	h.peer.Transmit(ack)
	h.step()
}

// steady sets up an established connection and prebuilt in-order data frames and ACKs.
func steady(t *testing.T, rounds int) (h *harness, c *Conn, data, acks []TxFrame, iss Seq) {
	h = newHarness(t, func(c *Config) { c.DelayedAck = -1 })
	c, iss = h.open(1000, true)
	payload := make([]byte, 1448)
	seq := Seq(1001)
	for i := 0; i < rounds; i++ {
		data = append(data, TxFrame{Buf: h.frame(segSpec{seq: seq, ack: iss + 1, flags: FlagACK, opts: tsOpt(200+uint32(i), 0), payload: payload[:1436]})})
		seq = seq.Add(1436)
	}
	for i := 0; i < rounds; i++ {
		acks = append(acks, TxFrame{Buf: h.frame(segSpec{seq: seq, ack: iss + 1 + Seq((i+1)*c.sndMSS), flags: FlagACK,
			opts: tsOpt(100000+uint32(i), 0), wnd: 65535})})
	}
	return
}

// TestSteadyStateNoAllocs proves the per-segment paths allocate nothing: receive + deliver +
// release + ACK, and send + ACK processing.
func TestSteadyStateNoAllocs(t *testing.T) {
	const rounds = 200
	h, c, data, acks, _ := steady(t, rounds+1)
	frames := make([][]byte, 64)
	i := 0
	rx := func() {
		h.peer.Transmit(data[i : i+1])
		i++
		recvRound(h, c, frames)
	}
	if a := testing.AllocsPerRun(rounds-1, rx); a != 0 {
		t.Fatalf("receive path: %v allocs per segment", a)
	}
	if c.Stats.BytesIn.Load() == 0 {
		t.Fatal("no data delivered")
	}
	payload := make([]byte, c.sndMSS)
	j := 0
	tx := func() {
		sendRound(h, c, payload, frames, acks[j:j+1])
		j++
	}
	if a := testing.AllocsPerRun(rounds-1, tx); a != 0 {
		t.Fatalf("send path: %v allocs per segment", a)
	}
	if c.Stats.BytesOut.Load() == 0 {
		t.Fatal("no data sent")
	}
}

// BenchmarkSegmentInput measures in-order data segments processed per second by one engine
// (parse, checksum, deliver, release, ACK every other segment).
func BenchmarkSegmentInput(b *testing.B) {
	t := &testing.T{}
	const batch = 32
	h, c, data, _, _ := steady(t, 4096)
	_ = h
	frames := make([][]byte, 64)
	b.ReportAllocs()
	b.SetBytes(1436)
	b.ResetTimer()
	// The frames' sequence numbers run out after 4096; rebuild (outside the timer) as needed.
	k := 0
	for n := 0; n < b.N; n++ {
		if k == len(data) {
			b.StopTimer()
			h, c, data, _, _ = steady(t, 4096)
			k = 0
			b.StartTimer()
		}
		h.peer.Transmit(data[k : k+1])
		k++
		if k%batch == 0 || n == b.N-1 {
			recvRound(h, c, frames)
		}
	}
}

// BenchmarkSegmentOutput measures the engine's send path per full-size segment: the payload's
// one copy from the writer's buffer into a transmit frame (with the checksum fused into the copy,
// or, in "offload", left to the link as a CHECKSUM_PARTIAL request), the frame handed to the
// link, and the ACK that frees the kept frame. The in-memory link's own copy to its peer (a
// stand-in for the wire) is included; it does not complete offloaded checksums here.
func BenchmarkSegmentOutput(b *testing.B) {
	for _, offload := range []bool{false, true} {
		name := "software-checksum"
		if offload {
			name = "offload"
		}
		b.Run(name, func(b *testing.B) {
			t := &testing.T{}
			const rounds = 4096
			setup := func() (*harness, *Conn, []TxFrame) {
				h, c, _, acks, _ := steady(t, rounds)
				h.e.txCsum = offload
				return h, c, acks
			}
			h, c, acks := setup()
			frames := make([][]byte, 64)
			payload := make([]byte, c.sndMSS)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			j := 0
			for n := 0; n < b.N; n++ {
				if j == len(acks) {
					b.StopTimer()
					h, c, acks = setup()
					j = 0
					b.StartTimer()
				}
				sendRound(h, c, payload, frames, acks[j:j+1])
				j++
			}
			if c.Stats.BytesOut.Load() == 0 {
				b.Fatal("no data sent")
			}
		})
	}
}
