package iwarp

import (
	"fmt"
	"testing"

	"github.com/xtgt/xtgt/datapath/verbs"
)

// Many large messages in flight with markers and CRC: FPDUs of every phase relative to the 512-octet marker
// grid cross Writev batches and receive-buffer refills back to back.
func TestPipelinedMarkers(t *testing.T) {
	const (
		size = 1 << 20
		qd   = 16
	)
	for _, op := range []verbs.Opcode{verbs.OpWrite, verbs.OpRead} {
		t.Run(fmt.Sprintf("op=%d", op), func(t *testing.T) {
			cfg := Config{Markers: true, CRC: true}
			cli, srv := connectPair(t, cfg, cfg, size*qd)
			fill(cli.loc.Buf(), 1)
			fill(srv.mr.Buf(), 2)
			want := verbs.WCWrite
			if op == verbs.OpRead {
				want = verbs.WCRead
			}
			post := func(slot int) {
				wr := verbs.SendWR{ID: uint64(slot), Op: op, Flags: verbs.FlagSignaled,
					SGL:        []verbs.SGE{{Addr: uint64(slot * size), Length: size, LKey: cli.loc.LKey()}},
					RemoteAddr: srv.mr.Addr() + uint64(slot*size), RKey: srv.mr.RKey()}
				if err := cli.qp.PostSend(&wr); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < qd; i++ {
				post(i)
			}
			const total = 4 * qd
			for done := 0; done < total; done++ {
				wc := waitWC(t, cli.scq)
				if wc.Status != verbs.StatusSuccess {
					t.Fatalf("completion %d: %+v: %v", done, wc, cli.qp.Err())
				}
				mustOK(t, wc, want)
				if done+qd < total {
					post(int(wc.ID))
				}
			}
			if st := srv.qp.Stats(); st.MarkerErrors != 0 || st.CRCErrors != 0 || st.TerminatesSent != 0 {
				t.Fatalf("server stats %+v", st)
			}
		})
	}
}
