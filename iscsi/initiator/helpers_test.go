package initiator

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/backstore"
	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/scsi"
	"github.com/xtgt/xtgt/iscsi/target"
)

const testIQN = "iqn.2026-11.dev.xtgt:test"

type testTarget struct {
	addr string
	srv  *target.Server
}

type targetOpts struct {
	size       int64
	blockSize  uint32
	chap       *login.CHAPSecret
	mutualCHAP *login.CHAPSecret
	limits     func(*login.Params)
	cfg        func(*target.Config)
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("XTGT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startTarget serves one target with a RAM LUN 0 on 127.0.0.1:0 until the test ends.
func startTarget(t testing.TB, o targetOpts) *testTarget {
	t.Helper()
	if o.size == 0 {
		o.size = 64 << 20
	}
	log := testLogger(t)
	cfg := target.Config{Log: log}
	cfg.Limits = target.DefaultLimits()
	if o.limits != nil {
		o.limits(&cfg.Limits)
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	srv := target.NewServer(cfg)
	dev := scsi.NewTarget(log)
	ram, err := backstore.NewRAM(o.size)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.AddLU(0, scsi.LUConfig{Backend: ram, BlockSize: o.blockSize, WriteBack: true,
		MaxTransferBytes: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddTarget(&target.Target{Name: testIQN, SCSI: dev, CHAP: o.chap, MutualCHAP: o.mutualCHAP}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, target.ErrServerClosed) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return after shutdown")
		}
	})
	return &testTarget{addr: l.Addr().String(), srv: srv}
}

func (tt *testTarget) dial(t testing.TB, o Options) *Session {
	t.Helper()
	o.Address = tt.addr
	if o.TargetName == "" {
		o.TargetName = testIQN
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Dial(ctx, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pattern fills b with bytes derived from the LBA of each 512-byte block and a seed.
func pattern(b []byte, lba uint64, seed byte) {
	for i := range b {
		blk := lba + uint64(i/512)
		b[i] = byte(blk) ^ byte(blk>>8)*7 ^ byte(i)*13 ^ seed
	}
}
