package target

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/initiator"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// TestCompareAndWriteContention has two sessions (two initiators) increment a counter in one block with
// COMPARE AND WRITE, retrying on MISCOMPARE: no increment may be lost, so the final count is exact.
func TestCompareAndWriteContention(t *testing.T) {
	_, addr := newTestServer(t, Config{}, nil)
	const lba, perSession = 100, 150
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dial := func(name string) *initiator.Session {
		s, err := initiator.Dial(ctx, initiator.Options{Address: addr, TargetName: testIQN, InitiatorName: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		// Consume the new nexus's power-on unit attention.
		for i := 0; i < 3; i++ {
			if s.TestUnitReady(ctx, 0) == nil {
				break
			}
		}
		return s
	}
	sessions := []*initiator.Session{dial("iqn.2026-11.dev.xtgt:caw-a"), dial("iqn.2026-11.dev.xtgt:caw-b")}
	if err := sessions[0].WriteAt(ctx, 0, lba, make([]byte, 512), false); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(sessions))
	var miscompares [2]int
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			block := make([]byte, 512)
			caw := make([]byte, 1024)
			cdb := make([]byte, 16)
			cdb[0] = 0x89
			binary.BigEndian.PutUint64(cdb[2:], lba)
			cdb[13] = 1
			for done := 0; done < perSession; {
				if err := s.ReadAt(ctx, 0, lba, block); err != nil {
					errs <- err
					return
				}
				n := binary.BigEndian.Uint64(block)
				copy(caw, block)
				binary.BigEndian.PutUint64(caw[512:], n+1)
				r, err := s.Do(ctx, 0, cdb, caw, nil)
				if err != nil {
					errs <- err
					return
				}
				switch {
				case r.Status == 0:
					done++
				case r.HasSense && r.Sense.Key == scsi.KeyMiscompare:
					miscompares[i]++
				default:
					errs <- fmt.Errorf("COMPARE AND WRITE: status %#x sense %+v", r.Status, r.Sense)
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
	block := make([]byte, 512)
	if err := sessions[1].ReadAt(ctx, 0, lba, block); err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint64(block); got != 2*perSession {
		t.Fatalf("counter = %d, want %d (miscompares %v)", got, 2*perSession, miscompares)
	}
	t.Logf("%d increments, miscompares retried: %v", 2*perSession, miscompares)
}
