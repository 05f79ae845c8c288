package initiator

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/xtgt/xtgt/iscsi/target"
)

func TestLoginReadWrite(t *testing.T) {
	tt := startTarget(t, targetOpts{})
	s := tt.dial(t, Options{})
	ctx := testCtx(t)
	if err := s.TestUnitReady(ctx, 0); err != nil {
		// The first command after login reports the power-on unit attention.
		if err2 := s.TestUnitReady(ctx, 0); err2 != nil {
			t.Fatalf("test unit ready: %v, then %v", err, err2)
		}
	}
	blocks, bs, err := s.ReadCapacity(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if bs != 512 || blocks != 64<<20/512 {
		t.Fatalf("capacity %d x %d", blocks, bs)
	}
	w := make([]byte, 64<<10)
	pattern(w, 8, 1)
	if err := s.WriteAt(ctx, 0, 8, w, false); err != nil {
		t.Fatal(err)
	}
	r := make([]byte, len(w))
	if err := s.ReadAt(ctx, 0, 8, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r, w) {
		t.Fatal("read data differs from written data")
	}
	if err := s.NOP(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentIO(t *testing.T) {
	for _, window := range []uint32{0, 3} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			// A 3-command window makes 64 goroutines wait for MaxCmdSN to advance.
			tt := startTarget(t, targetOpts{cfg: func(c *target.Config) { c.CmdWindow = window }})
			concurrentIO(t, tt.dial(t, Options{}))
		})
	}
}

func concurrentIO(t *testing.T, s *Session) {
	ctx := testCtx(t)
	_ = s.TestUnitReady(ctx, 0)
	const workers, iters, size = 64, 40, 8 << 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := make([]byte, size)
			r := make([]byte, size)
			lba := uint64(g) * 64
			for i := 0; i < iters; i++ {
				pattern(w, lba, byte(i))
				if err := s.WriteAt(ctx, 0, lba, w, false); err != nil {
					errs <- err
					return
				}
				if err := s.ReadAt(ctx, 0, lba, r); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(r, w) {
					errs <- fmt.Errorf("worker %d iteration %d: data mismatch", g, i)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
