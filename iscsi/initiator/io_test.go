package initiator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

// TestReadWriteMatrix moves patterns of many sizes across immediate data, unsolicited Data-Out, R2T bursts and
// Data-In PDU boundaries, with the fast and the conservative negotiation settings.
func TestReadWriteMatrix(t *testing.T) {
	limits := []struct {
		name string
		f    func(*login.Params)
		mrd  uint32 // initiator MaxRecvDataSegmentLength
	}{
		{name: "default"},
		{name: "small", mrd: 4096, f: func(p *login.Params) {
			p.MaxRecvDataSegmentLength = 8192
			p.MaxBurstLength = 64 << 10
			p.FirstBurstLength = 16 << 10
			p.MaxOutstandingR2T = 2
		}},
	}
	sizes := []int{512, 4096, 8192 + 512, 16 << 10, 64 << 10, 256<<10 + 4096, 1 << 20, 16 << 20}
	for _, l := range limits {
		tt := startTarget(t, targetOpts{size: 64 << 20, limits: l.f})
		for _, imm := range []bool{true, false} {
			for _, r2t := range []bool{false, true} {
				name := fmt.Sprintf("%s/immediate=%v/initialR2T=%v", l.name, imm, r2t)
				t.Run(name, func(t *testing.T) {
					s := tt.dial(t, Options{NoImmediateData: !imm, InitialR2T: r2t, MaxRecvDataSegmentLength: l.mrd})
					p := s.Params()
					if p.ImmediateData != imm || p.InitialR2T != r2t {
						t.Fatalf("negotiated ImmediateData=%v InitialR2T=%v", p.ImmediateData, p.InitialR2T)
					}
					ctx := testCtx(t)
					_ = s.TestUnitReady(ctx, 0)
					for i, size := range sizes {
						lba := uint64(i) * 7
						w := make([]byte, size)
						pattern(w, lba, byte(i)+1)
						if err := s.WriteAt(ctx, 0, lba, w, i%2 == 0); err != nil {
							t.Fatalf("write %d bytes: %v", size, err)
						}
						r := make([]byte, size)
						if err := s.ReadAt(ctx, 0, lba, r); err != nil {
							t.Fatalf("read %d bytes: %v", size, err)
						}
						if !bytes.Equal(r, w) {
							t.Fatalf("%d bytes: data mismatch", size)
						}
					}
					if err := s.Logout(ctx); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

func TestCheckCondition(t *testing.T) {
	tt := startTarget(t, targetOpts{size: 1 << 20})
	s := tt.dial(t, Options{})
	ctx := testCtx(t)
	_ = s.TestUnitReady(ctx, 0)
	buf := make([]byte, 4096)
	err := s.ReadAt(ctx, 0, 1<<20/512-1, buf) // runs past the end
	var se *StatusError
	if !errors.As(err, &se) || !errors.Is(err, ErrCheckCondition) || !se.HasSense || se.Sense.Key != 0x5 ||
		se.Sense.ASC != 0x2100 {
		t.Fatalf("read past the end: %v, want CHECK CONDITION / LBA out of range", err)
	}
	// An unsupported opcode through Do.
	res, err := s.Do(ctx, 0, []byte{0xff, 0, 0, 0, 0, 0}, nil, nil)
	if err != nil || res.Status != 2 || !res.HasSense || res.Sense.ASC != 0x2000 {
		t.Fatalf("opcode 0xff: %+v, %v", res, err)
	}
	inq, err := s.Inquiry(ctx, 0, false, 0)
	if err != nil || len(inq) < 36 || string(inq[8:12]) != "XTGT" {
		t.Fatalf("inquiry: %q, %v", inq, err)
	}
	if err := s.SyncCache(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

func TestTaskManagement(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := tt.dial(t, Options{})
	ctx := testCtx(t)
	resp, err := s.TaskManagement(ctx, pdu.TMFAbortTask, 0, 0x7777)
	if resp != pdu.TMFRespComplete && resp != pdu.TMFRespNoTask {
		t.Fatalf("abort of a task that does not exist: response %d, %v", resp, err)
	}
	if resp == pdu.TMFRespNoTask && !errors.Is(err, ErrTMF) {
		t.Fatalf("no-task response without ErrTMF: %v", err)
	}
	if _, err := s.TaskManagement(ctx, pdu.TMFLUNReset, 0, 0); err != nil {
		t.Fatalf("LUN reset: %v", err)
	}
	// The session still works.
	_ = s.TestUnitReady(ctx, 0)
	buf := make([]byte, 4096)
	if err := s.ReadAt(ctx, 0, 0, buf); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancel(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := tt.dial(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	buf := make([]byte, 4096)
	if err := s.ReadAt(ctx, 0, 0, buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read with a cancelled context: %v", err)
	}
	if err := s.NOP(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestAsyncLogout: a target shutting down asks for a logout; the session logs out cleanly.
func TestAsyncLogout(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := tt.dial(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tt.srv.Shutdown(ctx) }()
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("session still up after the target asked for a logout")
	}
	if err := <-done; err != nil {
		t.Fatalf("target shutdown: %v", err)
	}
	if !s.loggedOut.Load() {
		t.Fatalf("session ended without a logout: %v", s.Err())
	}
	if err := s.NOP(ctx); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("NOP after logout: %v", err)
	}
}
