package main

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/backstore"
	"github.com/xtgt/xtgt/iscsi/scsi"
	"github.com/xtgt/xtgt/iscsi/target"
)

func TestPattern(t *testing.T) {
	for _, bs := range []uint32{512, 4096} {
		b := make([]byte, 4*bs)
		fillPattern(b, 77, bs, 12345)
		if n := checkPattern(b, 77, bs, 12345); n != 0 {
			t.Fatalf("bs %d: fresh pattern has %d bad blocks", bs, n)
		}
		if n := checkPattern(b, 78, bs, 12345); n != 4 {
			t.Fatalf("bs %d: pattern at the wrong LBA: %d bad blocks, want 4", bs, n)
		}
		if n := checkPattern(b, 77, bs, 12346); n != 4 {
			t.Fatalf("bs %d: pattern of another run: %d bad blocks, want 4", bs, n)
		}
		b[2*bs+100] ^= 1
		if n := checkPattern(b, 77, bs, 12345); n != 1 {
			t.Fatalf("bs %d: one flipped bit: %d bad blocks, want 1", bs, n)
		}
	}
}

func TestProcCPU(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	v, err := procCPU(os.Getpid())
	if err != nil || v < 0 {
		t.Fatalf("procCPU: %v, %v", v, err)
	}
}

func TestBenchISCSIVerify(t *testing.T) {
	const iqn = "iqn.2026-11.dev.xtgt:bench"
	srv := target.NewServer(target.Config{})
	dev := scsi.NewTarget(nil)
	ram, err := backstore.NewRAM(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.AddLU(0, scsi.LUConfig{Backend: ram, WriteBack: true}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddTarget(&target.Target{Name: iqn, SCSI: dev}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	url := "iscsi://" + l.Addr().String() + "/" + iqn + "/0"
	for _, op := range []string{"randwrite", "read"} {
		c := iscsiConfig{url: url, op: op, bs: 8192, qd: 8, sessions: 2, dur: 300 * time.Millisecond, verify: true,
			digests: true, pid: os.Getpid()}
		rep, err := benchISCSI(&c)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if rep.IOs == 0 || rep.Errors != 0 || rep.Mismatches != 0 || !rep.Verified || rep.LatP50Us <= 0 {
			t.Fatalf("%s: report %+v", op, rep)
		}
	}
}
