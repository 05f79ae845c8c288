//go:build linux

package tcp_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/tcp"
	"github.com/xtgt/xtgt/datapath/tcp/lossinject"
)

func lossSize(t *testing.T) int64 {
	if v := os.Getenv("XTGT_TCP_LOSS_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if testing.Short() {
		return 4 << 20
	}
	return 32 << 20
}

// TestLinuxLoss transfers data both ways through random loss injected by a cls_bpf program on
// the peer's veth (both directions), with the kernel TCP as the peer.
func TestLinuxLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
		cc   string
	}{{"1pct-cubic", 0.01, "cubic"}, {"5pct-cubic", 0.05, "cubic"}, {"5pct-newreno", 0.05, "newreno"}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newLinuxBed(t, func(c *tcp.Config) { c.CongestionControl = tc.cc })
			if err := b.LimitPeerGSO(); err != nil {
				t.Fatal(err)
			}
			l, err := b.e.Listen(3260)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			kc := b.peerDial(t, 3260, 0)
			ec := b.accept(t, l)
			var inj *lossinject.Injector
			if err := b.Do(b.NSPeer, func() (err error) {
				inj, err = lossinject.Attach(b.IfPeer, tc.rate, tc.rate)
				return err
			}); err != nil {
				t.Skipf("cannot attach cls_bpf loss: %v", err)
			}
			defer b.Do(b.NSPeer, inj.Close)
			n := lossSize(t)
			start := time.Now()
			kc.SetDeadline(time.Now().Add(5 * time.Minute))
			ec.SetDeadline(time.Now().Add(5 * time.Minute))
			if got, cnt := pump(t, kc, kc.CloseWrite, ec, 11, n); got != streamSum(11, n) || cnt != n {
				t.Fatal("kernel->engine: mismatch")
			}
			mid := time.Since(start)
			if got, cnt := pump(t, ec, ec.CloseWrite, kc, 12, n); got != streamSum(12, n) || cnt != n {
				t.Fatal("engine->kernel: mismatch")
			}
			in, out := inj.Drops()
			s := &ec.Stats
			t.Logf("%d MiB each way: k->e %v, e->k %v; dropped ingress=%d egress=%d; engine retransmits=%d (fast-recoveries=%d, RTOs=%d, TLPs=%d, RACK=%d, lost-rtx=%d) ooo-in=%d",
				n>>20, mid.Round(time.Millisecond), (time.Since(start) - mid).Round(time.Millisecond), in, out,
				s.Retransmits.Load(), s.FastRetransmits.Load(), s.Timeouts.Load(), s.TailLossProbes.Load(),
				s.RACKLosses.Load(), s.LostRetransmits.Load(), s.OutOfOrderIn.Load())
			if in == 0 || out == 0 {
				t.Fatal("loss injector dropped nothing")
			}
			if s.Retransmits.Load() == 0 {
				t.Fatal("engine never retransmitted under loss")
			}
		})
	}
}
