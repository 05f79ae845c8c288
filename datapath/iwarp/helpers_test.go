package iwarp

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/verbs"
)

// end is one side of a connection under test.
type end struct {
	dev    *Device
	pd     verbs.PD
	scq    *CQ
	rcq    *CQ
	qp     *QP
	mr     verbs.MR // remote-accessible region (RemoteRead|RemoteWrite|LocalWrite)
	loc    verbs.MR // local buffer
	recvMR verbs.MR
}

func newEnd(t testing.TB, cfg Config, regionSize int) *end {
	t.Helper()
	d := NewDevice(cfg)
	pd, _ := d.AllocPD()
	scq, _ := d.CreateCQ(256, nil)
	rcq, _ := d.CreateCQ(256, nil)
	qp, err := pd.CreateQP(verbs.QPAttr{SendCQ: scq, RecvCQ: rcq, MaxSendWR: 64, MaxRecvWR: 64, MaxSGE: 4})
	if err != nil {
		t.Fatal(err)
	}
	e := &end{dev: d, pd: pd, scq: scq.(*CQ), rcq: rcq.(*CQ), qp: qp.(*QP)}
	all := verbs.AccessLocalWrite | verbs.AccessRemoteWrite | verbs.AccessRemoteRead
	if e.mr, err = pd.RegMR(make([]byte, regionSize), all, 0x7f0000000000); err != nil {
		t.Fatal(err)
	}
	if e.loc, err = pd.RegMR(make([]byte, regionSize), verbs.AccessLocalWrite|verbs.AccessZeroBased, 0); err != nil {
		t.Fatal(err)
	}
	if e.recvMR, err = pd.RegMR(make([]byte, regionSize), verbs.AccessLocalWrite, 0x1000); err != nil {
		t.Fatal(err)
	}
	return e
}

// connectPair connects a client and a server over loopback TCP.
func connectPair(t testing.TB, ccfg, scfg Config, regionSize int) (cli, srv *end) {
	t.Helper()
	srv = newEnd(t, scfg, regionSize)
	cli = newEnd(t, ccfg, regionSize)
	ln, err := srv.dev.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acc := make(chan error, 1)
	go func() {
		r, err := ln.Accept(ctx)
		if err != nil {
			acc <- err
			return
		}
		acc <- r.Accept(srv.qp, verbs.ConnParam{PrivateData: []byte("srv")})
	}()
	rep, err := cli.dev.Connect(ctx, cli.qp, ln.Addr().String(), verbs.ConnParam{PrivateData: []byte("cli")})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-acc; err != nil {
		t.Fatal(err)
	}
	if string(rep.PrivateData) != "srv" {
		t.Fatalf("reply private data %q", rep.PrivateData)
	}
	ln.Close()
	t.Cleanup(func() { cli.qp.Close(); srv.qp.Close() })
	return cli, srv
}

// waitWC polls cq for one completion (bounded by 20 s).
func waitWC(t testing.TB, cq *CQ) verbs.WC {
	t.Helper()
	var wc [1]verbs.WC
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		if cq.Poll(wc[:]) == 1 {
			return wc[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("timeout waiting for completion")
		}
		if i > 1000 {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

func mustOK(t testing.TB, wc verbs.WC, op verbs.WCOpcode) {
	t.Helper()
	if wc.Status != verbs.StatusSuccess || wc.Op != op {
		t.Fatalf("completion %+v, want op %d success", wc, op)
	}
}

func fill(b []byte, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timeout: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
