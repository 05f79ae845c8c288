package scsi

import (
	"sync"
	"testing"
)

// TestConcurrentExecute runs I/O from several nexuses while management
// operations change state; run with -race.
func TestConcurrentExecute(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nexusA
			n.ISID = uint64(g + 10)
			rd := &Command{Nexus: n, CDB: rw10(opRead10, uint32(g*8), 8), DataIn: make([]byte, 4096)}
			wr := &Command{Nexus: n, CDB: rw10(opWrite10, uint32(g*8), 8), DataOut: make([]byte, 4096)}
			for range 500 {
				tg.Execute(wr)
				tg.Execute(rd)
			}
		}()
	}
	for i := range 50 {
		tg.Reset(LUNReset, 0, nexusA)
		tg.ClearTaskSet(0, nexusB)
		tg.NexusLoss(Nexus{ISID: uint64(10 + i%4)})
		tg.AddLU(1, LUConfig{Backend: &memBackend{b: make([]byte, 4096)}})
		tg.RemoveLU(1)
		_ = tg.LUNs()
	}
	wg.Wait()
}
