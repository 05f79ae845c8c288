package iwarp

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xtgt/xtgt/datapath/verbs"
)

var e2eSizes = []int{1, 3, 511, 512, 4093, 65536, 65537 + 1000, 1<<20 + 13, 16 << 20}

func TestEndToEnd(t *testing.T) {
	const region = 16 << 20
	for _, markers := range []bool{false, true} {
		for _, crc := range []bool{false, true} {
			t.Run(fmt.Sprintf("markers=%v,crc=%v", markers, crc), func(t *testing.T) {
				cfg := Config{Markers: markers, CRC: crc}
				cli, srv := connectPair(t, cfg, cfg, region)
				if got := cli.qp.framer.Markers(); got != markers {
					t.Fatalf("tx markers %v", got)
				}
				for i, n := range e2eSizes {
					seed := uint64(i + 1)
					t.Run(fmt.Sprintf("write/%d", n), func(t *testing.T) { e2eWrite(t, cli, srv, n, seed) })
					t.Run(fmt.Sprintf("read/%d", n), func(t *testing.T) { e2eRead(t, cli, srv, n, seed) })
					t.Run(fmt.Sprintf("send/%d", n), func(t *testing.T) { e2eSend(t, cli, srv, n, seed) })
				}
				st := srv.qp.Stats()
				if st.AccessViolations != 0 || st.CRCErrors != 0 || st.TerminatesSent != 0 {
					t.Fatalf("server stats %+v", st)
				}
			})
		}
	}
}

// e2eWrite writes n bytes at an odd offset of the server region, then a Send: by RDMAP ordering
// (RFC 5040 §5.5) the Send completes at the server only after the Write is placed.
func e2eWrite(t *testing.T, cli, srv *end, n int, seed uint64) {
	off := 7 % (srv.mr.Len() - n + 1)
	src := cli.loc.Buf()[:n]
	fill(src, seed)
	before := srv.qp.Stats()
	mustPostRecv(t, srv, 16)
	wr := verbs.SendWR{ID: 1, Op: verbs.OpWrite, Flags: verbs.FlagSignaled,
		SGL:        []verbs.SGE{{Addr: 0, Length: uint32(n), LKey: cli.loc.LKey()}},
		RemoteAddr: srv.mr.Addr() + uint64(off), RKey: srv.mr.RKey()}
	if err := cli.qp.PostSend(&wr); err != nil {
		t.Fatal(err)
	}
	mustOK(t, waitWC(t, cli.scq), verbs.WCWrite)
	sendSmall(t, cli)
	mustOK(t, waitWC(t, srv.rcq), verbs.WCRecv)
	mustOK(t, waitWC(t, cli.scq), verbs.WCSend)
	if !bytes.Equal(srv.mr.Buf()[off:off+n], src) {
		t.Fatal("written data differs")
	}
	after := srv.qp.Stats()
	if placed := after.PlacedBytes - before.PlacedBytes; placed != uint64(n)+4 {
		t.Fatalf("placed %d bytes for a %d-byte write + 4-byte send", placed, n)
	}
}

func e2eRead(t *testing.T, cli, srv *end, n int, seed uint64) {
	src := srv.mr.Buf()[:n]
	fill(src, seed+100)
	dst := cli.loc.Buf()[:n]
	clear(dst)
	wr := verbs.SendWR{ID: 2, Op: verbs.OpRead, Flags: verbs.FlagSignaled,
		SGL:        []verbs.SGE{{Addr: 0, Length: uint32(n), LKey: cli.loc.LKey()}},
		RemoteAddr: srv.mr.Addr(), RKey: srv.mr.RKey()}
	if err := cli.qp.PostSend(&wr); err != nil {
		t.Fatal(err)
	}
	wc := waitWC(t, cli.scq)
	mustOK(t, wc, verbs.WCRead)
	if wc.ByteLen != uint32(n) || !bytes.Equal(dst, src) {
		t.Fatal("read data differs")
	}
}

func e2eSend(t *testing.T, cli, srv *end, n int, seed uint64) {
	src := cli.loc.Buf()[:n]
	fill(src, seed+200)
	mustPostRecv(t, srv, n)
	wr := verbs.SendWR{ID: 3, Op: verbs.OpSend, Flags: verbs.FlagSignaled,
		SGL: []verbs.SGE{{Addr: 0, Length: uint32(n), LKey: cli.loc.LKey()}}}
	if err := cli.qp.PostSend(&wr); err != nil {
		t.Fatal(err)
	}
	mustOK(t, waitWC(t, cli.scq), verbs.WCSend)
	wc := waitWC(t, srv.rcq)
	mustOK(t, wc, verbs.WCRecv)
	if wc.ByteLen != uint32(n) || !bytes.Equal(srv.recvMR.Buf()[:n], src) {
		t.Fatalf("send data differs (len %d)", wc.ByteLen)
	}
}

func mustPostRecv(t testing.TB, e *end, n int) {
	t.Helper()
	wr := verbs.RecvWR{ID: 9, SGL: []verbs.SGE{{Addr: e.recvMR.Addr(), Length: uint32(n), LKey: e.recvMR.LKey()}}}
	if err := e.qp.PostRecv(&wr); err != nil {
		t.Fatal(err)
	}
}

func sendSmall(t testing.TB, e *end) {
	t.Helper()
	wr := verbs.SendWR{ID: 4, Op: verbs.OpSend, Flags: verbs.FlagSignaled,
		SGL: []verbs.SGE{{Addr: uint64(e.loc.Len() - 4), Length: 4, LKey: e.loc.LKey()}}}
	if err := e.qp.PostSend(&wr); err != nil {
		t.Fatal(err)
	}
}
