package xsk

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/xtgt/xtgt/bpf"
)

const etypeTest = 0x88b5 // IEEE local experimental

// testFrame fills f with a 60-byte A -> B frame of etypeTest carrying tag.
func (b *bed) testFrame(f Frame, tag uint32) Frame {
	f.Data = f.Data[:60]
	clear(f.Data)
	copy(f.Data[0:6], b.p.MACB)
	copy(f.Data[6:12], b.p.MACA)
	binary.BigEndian.PutUint16(f.Data[12:], etypeTest)
	copy(f.Data[14:], "xtgt-kp")
	binary.BigEndian.PutUint32(f.Data[21:], tag)
	return f
}

// readTags reads n frames of etypeTest from the peer's raw socket and
// returns their tags.
func readTags(t *testing.T, fd, n int) []uint32 {
	t.Helper()
	buf := make([]byte, 2048)
	var tags []uint32
	for len(tags) < n {
		k, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatalf("peer got %d of %d frames: %v", len(tags), n, err)
		}
		if k >= 25 && string(buf[14:21]) == "xtgt-kp" {
			tags = append(tags, binary.BigEndian.Uint32(buf[21:]))
		}
	}
	return tags
}

// waitSent polls s until none of frames is in flight (bounded).
func waitSent(t *testing.T, s *Socket, frames ...Frame) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if !slices.ContainsFunc(frames, s.InFlight) {
			return
		}
		if _, err := s.Poll(time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("frames still in flight after 2s")
}

// onFree reports whether f's chunk is on the TX free list.
func onFree(s *Socket, f Frame) bool { return slices.Contains(s.free, f.Addr&^s.frameMask) }

// drain takes every frame GetTxFrame hands out.
func drain(s *Socket) []Frame {
	var out []Frame
	for {
		f, ok := s.GetTxFrame()
		if !ok {
			return out
		}
		out = append(out, f)
	}
}

func keptNow(t *testing.T, s *Socket) uint64 {
	t.Helper()
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.TxKept
}

func TestKeep(t *testing.T) {
	b := newBed(t, bpf.ModeNative)
	s := b.xs
	peer := b.rawSocket(t, etypeTest)
	if got, want := s.TxFrames(), 1024-1024/2; got != want {
		t.Fatalf("TxFrames %d, want %d", got, want)
	}

	t.Run("kept frames stay out of the pool until given back", func(t *testing.T) {
		kept := make([]Frame, 8)
		for i := range kept {
			f, ok := s.GetTxFrame()
			if !ok {
				t.Fatal("no TX frame")
			}
			kept[i] = b.testFrame(f, uint32(i))
			kept[i].Keep = true
		}
		if n, err := s.Transmit(kept); n != len(kept) || err != nil {
			t.Fatalf("transmit: %d %v", n, err)
		}
		waitSent(t, s, kept...)
		for i, tag := range readTags(t, peer, len(kept)) {
			if tag != uint32(i) {
				t.Fatalf("frame %d has tag %d", i, tag)
			}
		}
		if k := keptNow(t, s); k != uint64(len(kept)) {
			t.Errorf("TxKept %d, want %d", k, len(kept))
		}
		free := drain(s)
		if len(free) != s.TxFrames()-len(kept) {
			t.Errorf("pool handed out %d frames, want %d (all but the kept)", len(free), s.TxFrames()-len(kept))
		}
		for _, f := range free {
			for _, k := range kept {
				if f.Addr == k.Addr {
					t.Fatalf("GetTxFrame returned kept frame %#x", k.Addr)
				}
			}
			s.PutTxFrame(f)
		}
		for _, f := range kept {
			s.PutTxFrame(f)
			s.PutTxFrame(f) // twice: harmless
		}
		if k := keptNow(t, s); k != 0 {
			t.Errorf("TxKept %d after giving back, want 0", k)
		}
		free = drain(s)
		if len(free) != s.TxFrames() {
			t.Errorf("pool handed out %d frames, want %d", len(free), s.TxFrames())
		}
		for _, k := range kept {
			if !slices.ContainsFunc(free, func(f Frame) bool { return f.Addr == k.Addr }) {
				t.Errorf("kept frame %#x not back in the pool", k.Addr)
			}
		}
		for _, f := range free {
			s.PutTxFrame(f)
		}
	})

	t.Run("given back before completion, freed by the completion", func(t *testing.T) {
		// Copy mode sends at most 32 descriptors per kick: of 64 queued
		// at once, the kernel has not even read the last ones when
		// Transmit returns.
		const n = 64
		fs := make([]Frame, n)
		for i := range fs {
			f, ok := s.GetTxFrame()
			if !ok {
				t.Fatal("no TX frame")
			}
			fs[i] = b.testFrame(f, 100+uint32(i))
			fs[i].Keep = true
		}
		if k, err := s.Transmit(fs); k != n || err != nil {
			t.Fatalf("transmit: %d %v", k, err)
		}
		done := int(s.comp.ready())
		t.Logf("after one kick the kernel completed %d of %d", done, n)
		for _, f := range fs {
			s.PutTxFrame(f)
			if !s.InFlight(f) || onFree(s, f) {
				t.Fatalf("frame %#x freed before its completion was reaped", f.Addr)
			}
		}
		if got := s.Complete(); got != done {
			t.Fatalf("Complete reaped %d, the ring had %d", got, done)
		}
		for i, f := range fs {
			if i < done && (!onFree(s, f) || s.InFlight(f)) {
				t.Errorf("frame %d completed but not freed", i)
			}
			if i >= done && (onFree(s, f) || !s.InFlight(f)) {
				t.Errorf("frame %d freed although the kernel has not completed it", i)
			}
		}
		if done == n {
			t.Log("the kernel sent all in one kick: deferral shown only up to Complete")
		}
		waitSent(t, s, fs...)
		for i, f := range fs {
			if !onFree(s, f) {
				t.Errorf("frame %d not freed after its completion", i)
			}
		}
		for i, tag := range readTags(t, peer, n) {
			if tag != 100+uint32(i) {
				t.Fatalf("frame %d has tag %d", i, tag)
			}
		}
		if k := keptNow(t, s); k != 0 {
			t.Errorf("TxKept %d, want 0", k)
		}
	})

	t.Run("a kept frame sent again arrives twice", func(t *testing.T) {
		f, ok := s.GetTxFrame()
		if !ok {
			t.Fatal("no TX frame")
		}
		f = b.testFrame(f, 200)
		f.Keep = true
		if n, err := s.Transmit([]Frame{f}); n != 1 || err != nil {
			t.Fatalf("transmit: %d %v", n, err)
		}
		waitSent(t, s, f)
		if onFree(s, f) {
			t.Fatal("kept frame freed by its completion")
		}
		f.Keep = false // hand it over with the second send
		if n, err := s.Transmit([]Frame{f}); n != 1 || err != nil {
			t.Fatalf("re-transmit: %d %v", n, err)
		}
		waitSent(t, s, f)
		if tags := readTags(t, peer, 2); tags[0] != 200 || tags[1] != 200 {
			t.Errorf("tags %v, want [200 200]", tags)
		}
		if !onFree(s, f) {
			t.Error("frame not freed after its unkept re-send completed")
		}
		if k := keptNow(t, s); k != 0 {
			t.Errorf("TxKept %d, want 0", k)
		}
	})

	t.Run("no allocations to keep, re-send and give back", func(t *testing.T) {
		f, ok := s.GetTxFrame()
		if !ok {
			t.Fatal("no TX frame")
		}
		one := []Frame{b.testFrame(f, 300)}
		one[0].Keep = true
		buf := make([]byte, 2048)
		var lost int
		wait := func() {
			for i := 0; i < 1000 && s.InFlight(one[0]); i++ {
				s.Poll(time.Millisecond)
			}
			if s.InFlight(one[0]) {
				lost++
			}
		}
		allocs := testing.AllocsPerRun(200, func() {
			for range 2 { // send, then re-send the retained frame
				if n, _ := s.Transmit(one); n != 1 {
					lost++
				}
				if _, err := unix.Read(peer, buf); err != nil {
					lost++
				}
				wait()
			}
			s.PutTxFrame(one[0])
			g, ok := s.GetTxFrame() // the pool is a stack: the same frame
			if !ok || g.Addr != one[0].Addr {
				lost++
			}
		})
		if lost > 0 {
			t.Fatalf("%d losses", lost)
		}
		if allocs != 0 {
			t.Errorf("%.1f allocations per keep/re-send/give-back, want 0", allocs)
		}
		s.PutTxFrame(one[0])
	})

	t.Run("bad frames are refused", func(t *testing.T) {
		f, ok := s.GetTxFrame()
		if !ok {
			t.Fatal("no TX frame")
		}
		good := b.testFrame(f, 400)
		good.Keep = true
		defer s.PutTxFrame(good)
		cases := []struct {
			name string
			f    Frame
			err  error
		}{
			{"checksum request without offload", Frame{Addr: good.Addr, Data: good.Data, CsumStart: 14, CsumOffset: 2}, ErrNoChecksumOffload},
			{"empty", Frame{Addr: good.Addr, Data: good.Data[:0]}, ErrBadFrame},
			{"past its chunk", Frame{Addr: good.Addr + uint64(s.FrameSize()) - 10, Data: good.Data}, ErrBadFrame},
			{"outside UMEM", Frame{Addr: uint64(len(s.umem)), Data: good.Data}, ErrBadFrame},
		}
		for _, c := range cases {
			n, err := s.Transmit([]Frame{good, c.f, good})
			if n != 1 || !errors.Is(err, c.err) {
				t.Errorf("%s: queued %d, %v; want 1, %v", c.name, n, err, c.err)
			}
			waitSent(t, s, good)
		}
		if tags := readTags(t, peer, len(cases)); slices.ContainsFunc(tags, func(v uint32) bool { return v != 400 }) {
			t.Errorf("peer got tags %v", tags)
		}
		if st, _ := s.Stats(); st.Kernel.Tx_invalid_descs != 0 {
			t.Errorf("kernel saw %d invalid TX descriptors", st.Kernel.Tx_invalid_descs)
		}
	})
}
