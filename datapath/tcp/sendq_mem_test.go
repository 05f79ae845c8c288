package tcp_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/link/memlink"
	"github.com/xtgt/xtgt/datapath/tcp"
)

// TestMemChecksumOffload sends through links that complete checksums (the engine writes only
// the pseudo-header sum), under loss so that resends from kept frames are offloaded too. The
// receiving engine verifies every checksum in full, so a wrong request would lose the data.
func TestMemChecksumOffload(t *testing.T) {
	p := newPairLinks(t, func(a, b *memlink.Link) { a.CsumOffload, b.CsumOffload = true, true }, nil)
	cl, sv := p.connect(t, 3260)
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(9, 9))
	drop := func([]byte) bool { mu.Lock(); defer mu.Unlock(); return r.Float64() < 0.02 }
	p.la.Drop, p.lb.Drop = drop, drop
	transfer(t, cl, sv, pattern(4<<20, 5))
	if p.la.Offloaded.Load() == 0 {
		t.Fatal("no checksum was offloaded")
	}
	if cl.Stats.Retransmits.Load() == 0 {
		t.Fatal("no retransmissions under loss")
	}
	if n := p.b.Stats.BadChecksum.Load() + p.a.Stats.BadChecksum.Load(); n != 0 {
		t.Fatalf("%d bad checksums", n)
	}
	// The last ACK may still be on its way when the reader sees FIN.
	for i := 0; i < 200 && p.a.Stats.KeptFrames.Load() != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.a.Stats.KeptFrames.Load(); n != 0 {
		t.Fatalf("%d frames still kept after everything was acknowledged", n)
	}
}

// TestMemWritevOneCopy writes PDU-shaped vectors (small header, large borrowed payload, small
// trailer) and scribbles over every buffer as soon as Writev returns: the stream must still
// arrive as it was when written, so Writev returned only after the engine had taken the bytes.
func TestMemWritevOneCopy(t *testing.T) {
	p := newPair(t, nil)
	cl, sv := p.connect(t, 3260)
	var want bytes.Buffer
	const rounds = 64
	go func() {
		hdr := make([]byte, 48)
		pay := make([]byte, 256<<10+3)
		pad := make([]byte, 1)
		for i := range rounds {
			copy(hdr, pattern(len(hdr), uint64(3*i)))
			copy(pay, pattern(len(pay), uint64(3*i+1)))
			pad[0] = byte(i)
			want.Write(hdr)
			want.Write(pay)
			want.Write(pad)
			if n, err := cl.Writev([][]byte{hdr, pay, pad}); err != nil || n != len(hdr)+len(pay)+1 {
				t.Errorf("writev: %d, %v", n, err)
				return
			}
			for _, b := range [][]byte{hdr, pay, pad} {
				for j := range b {
					b[j] = 0xEE
				}
			}
		}
		cl.CloseWrite()
	}()
	sv.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(sv)
	if err != nil {
		t.Fatalf("read: %v after %d bytes", err, len(got))
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("stream differs (%d bytes, want %d): a buffer was read after Writev returned", len(got), want.Len())
	}
}

// TestMemWriteDeadlineWhileBorrowed: a write stuck on a peer that does not read must not
// return while the engine may still read the caller's buffer. It resets the connection.
func TestMemWriteDeadlineWhileBorrowed(t *testing.T) {
	p := newPair(t, func(a, b *tcp.Config) { b.RecvBuffer = 64 << 10 })
	cl, sv := p.connect(t, 3260)
	_ = sv // never reads
	cl.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	buf := pattern(8<<20, 4)
	n, err := cl.Write(buf)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write: %d, %v; want deadline exceeded", n, err)
	}
	if st := cl.State(); st != tcp.StateClosed {
		t.Fatalf("state %v after an abandoned borrowed write, want CLOSED", st)
	}
	if _, err := cl.Write([]byte("x")); err == nil {
		t.Fatal("write after reset succeeded")
	}
}

// TestMemMultiBufferSegments: over a jumbo MTU, an engine whose transmit buffers are 2 KiB
// sends each segment over four of them (TxFrame.More), under loss, so that resends are copied
// out of kept multi-buffer segments too; the peer receives every packet whole (or, in
// multi-buffer-receive, spread over 1500-byte frames, its payload delivered as several views,
// out-of-order ones held) and verifies its checksum, with and without checksum offload.
func TestMemMultiBufferSegments(t *testing.T) {
	for _, tc := range []struct{ offload, rxMulti bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		offload, rxMulti := tc.offload, tc.rxMulti
		name := map[bool]string{false: "software-checksum", true: "offload"}[offload] +
			map[bool]string{false: "", true: "/multi-buffer-receive"}[rxMulti]
		t.Run(name, func(t *testing.T) {
			la, lb := memlink.NewPairSizes(macA, macB, 8192, 2048, 9216, 9000)
			la.TxFrags = 4
			la.CsumOffload, lb.CsumOffload = offload, offload
			if rxMulti {
				// B receives every packet over 1500-byte frames and advertises the MTU's MSS.
				lb.RxFragSize = 1500
			}
			p := newPairOver(t, la, lb, nil)
			cl, sv := p.connect(t, 3260)
			var mu sync.Mutex
			r := rand.New(rand.NewPCG(11, 11))
			drop := func([]byte) bool { mu.Lock(); defer mu.Unlock(); return r.Float64() < 0.02 }
			p.la.Drop, p.lb.Drop = drop, drop
			sent := p.la.Sent.Load()
			framesOut := p.a.Stats.FramesOut.Load()
			data := pattern(8<<20, 6)
			transfer(t, cl, sv, data)
			pkts, frames := p.la.Sent.Load()-sent, p.a.Stats.FramesOut.Load()-framesOut
			if frames < 3*pkts {
				t.Fatalf("%d frames for %d packets: segments did not span several buffers", frames, pkts)
			}
			if cl.Stats.Retransmits.Load() == 0 {
				t.Fatal("no retransmissions under loss")
			}
			if rxMulti && sv.Stats.OutOfOrderIn.Load() == 0 {
				t.Fatal("no out-of-order arrivals under loss")
			}
			if n := p.a.Stats.BadChecksum.Load() + p.b.Stats.BadChecksum.Load(); n != 0 {
				t.Fatalf("%d bad checksums", n)
			}
			transfer(t, sv, cl, pattern(2<<20+5, 7)) // back: single-buffer segments sized to A's frames
			t.Logf("packets %d frames %d retransmits %d", pkts, frames, cl.Stats.Retransmits.Load())
		})
	}
}
