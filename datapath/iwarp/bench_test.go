package iwarp

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/xtgt/xtgt/datapath/verbs"
)

// spinWC polls cq without sleeping (the allocation tests need the poller not to park in timers).
func spinWC(tb testing.TB, cq *CQ, wc []verbs.WC) verbs.WC {
	for i := 0; i < 50_000_000; i++ {
		if cq.Poll(wc[:1]) == 1 {
			return wc[0]
		}
		runtime.Gosched()
	}
	tb.Fatal("no completion")
	return verbs.WC{}
}

// TestSteadyStateNoAllocs proves the message path (post, frame, write, read, deframe, place, complete)
// allocates nothing once warmed up, for RDMA Write, RDMA Read and Send, with markers and CRC on.
func TestSteadyStateNoAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cli, srv := connectPair(t, Config{Markers: true, CRC: true}, Config{Markers: true, CRC: true}, 1<<20)
	const n = 200 << 10
	wc := make([]verbs.WC, 1)
	sgl := []verbs.SGE{{Addr: 0, Length: n, LKey: cli.loc.LKey()}}
	rsgl := []verbs.SGE{{Addr: srv.recvMR.Addr(), Length: n, LKey: srv.recvMR.LKey()}}
	write := verbs.SendWR{Op: verbs.OpWrite, Flags: verbs.FlagSignaled, SGL: sgl, RemoteAddr: srv.mr.Addr(), RKey: srv.mr.RKey()}
	read := verbs.SendWR{Op: verbs.OpRead, Flags: verbs.FlagSignaled, SGL: sgl, RemoteAddr: srv.mr.Addr(), RKey: srv.mr.RKey()}
	send := verbs.SendWR{Op: verbs.OpSend, Flags: verbs.FlagSignaled, SGL: sgl}
	recv := verbs.RecvWR{SGL: rsgl}
	for _, tc := range []struct {
		name string
		run  func()
	}{
		{"write", func() {
			if err := cli.qp.PostSend(&write); err != nil {
				t.Fatal(err)
			}
			spinWC(t, cli.scq, wc)
		}},
		{"read", func() {
			if err := cli.qp.PostSend(&read); err != nil {
				t.Fatal(err)
			}
			spinWC(t, cli.scq, wc)
		}},
		{"send", func() {
			if err := srv.qp.PostRecv(&recv); err != nil {
				t.Fatal(err)
			}
			if err := cli.qp.PostSend(&send); err != nil {
				t.Fatal(err)
			}
			spinWC(t, cli.scq, wc)
			spinWC(t, srv.rcq, wc)
		}},
	} {
		for i := 0; i < 20; i++ {
			tc.run()
		}
		if a := testing.AllocsPerRun(200, tc.run); a != 0 {
			t.Errorf("%s: %v allocations per message", tc.name, a)
		}
	}
	if st := srv.qp.Stats(); st.AccessViolations != 0 || st.TerminatesSent != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkWrite measures RDMA Write over loopback TCP with 8 writes in flight.
func BenchmarkWrite(b *testing.B) {
	for _, crc := range []bool{false, true} {
		for _, size := range []int{4 << 10, 64 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("crc=%v/%dk", crc, size>>10), func(b *testing.B) {
				benchOp(b, verbs.OpWrite, size, Config{CRC: crc})
			})
		}
	}
}

// BenchmarkRead measures RDMA Read over loopback TCP with 8 reads in flight.
func BenchmarkRead(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("crc=true/%dk", size>>10), func(b *testing.B) {
			benchOp(b, verbs.OpRead, size, Config{CRC: true})
		})
	}
}

func benchOp(b *testing.B, op verbs.Opcode, size int, cfg Config) {
	const qd = 8
	cli, srv := connectPair(b, cfg, cfg, qd*size)
	wc := make([]verbs.WC, qd)
	wrs := make([]verbs.SendWR, qd)
	for i := range wrs {
		wrs[i] = verbs.SendWR{ID: uint64(i), Op: op, Flags: verbs.FlagSignaled,
			SGL:        []verbs.SGE{{Addr: uint64(i * size), Length: uint32(size), LKey: cli.loc.LKey()}},
			RemoteAddr: srv.mr.Addr() + uint64(i*size), RKey: srv.mr.RKey()}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	posted, done := 0, 0
	for ; posted < min(qd, b.N); posted++ {
		if err := cli.qp.PostSend(&wrs[posted]); err != nil {
			b.Fatal(err)
		}
	}
	for spins := 0; done < b.N; {
		n := cli.scq.Poll(wc)
		if n == 0 {
			if spins++; spins > 100 {
				runtime.Gosched()
			}
			continue
		}
		spins = 0
		for _, w := range wc[:n] {
			if w.Status != verbs.StatusSuccess {
				b.Fatalf("completion %v", w.Status)
			}
			done++
			if posted < b.N {
				if err := cli.qp.PostSend(&wrs[w.ID]); err != nil {
					b.Fatal(err)
				}
				posted++
			}
		}
	}
}
