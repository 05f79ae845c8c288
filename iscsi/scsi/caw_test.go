package scsi

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"
)

func cawCDB(lba uint64, n byte) []byte {
	b := cdb(opCompareAndWrite, 16)
	binary.BigEndian.PutUint64(b[2:], lba)
	b[13] = n
	return b
}

func TestCompareAndWrite(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	a := bytes.Repeat([]byte{'A'}, 1024)
	b := bytes.Repeat([]byte{'B'}, 1024)
	copy(m.b[3*512:], a)
	wantGood(t, run(tg, nexusA, 0, cawCDB(3, 2), append(append([]byte{}, a...), b...), 0))
	if !bytes.Equal(m.b[3*512:5*512], b) {
		t.Fatal("CAW did not write")
	}
	// Miscompare: INFORMATION is the offset of the first differing byte.
	cmp := append([]byte{}, b...)
	cmp[700] = 'x'
	s := wantSense(t, run(tg, nexusA, 0, cawCDB(3, 2), append(cmp, a...), 0), KeyMiscompare, ASCMiscompareDuringVerify)
	if !s.InfoValid || s.Info != 700 {
		t.Errorf("miscompare info %v %d", s.InfoValid, s.Info)
	}
	if !bytes.Equal(m.b[3*512:5*512], b) {
		t.Fatal("miscompare wrote data")
	}
	for _, tc := range []struct {
		name string
		cdb  []byte
		data []byte
		key  byte
		asc  ASC
	}{
		{"beyond end", cawCDB(testBlocks-1, 2), make([]byte, 2048), KeyIllegalRequest, ASCLBAOutOfRange},
		{"short data", cawCDB(0, 2), make([]byte, 1024), KeyIllegalRequest, ASCInvalidFieldInIU},
		{"wrprotect", func() []byte { c := cawCDB(0, 1); c[1] = 0x20; return c }(), make([]byte, 1024), KeyIllegalRequest, ASCInvalidFieldInCDB},
		{"zero count with data", cawCDB(0, 0), make([]byte, 1024), KeyIllegalRequest, ASCInvalidFieldInCDB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantSense(t, run(tg, nexusA, 0, tc.cdb, tc.data, 0), tc.key, tc.asc)
		})
	}
	wantGood(t, run(tg, nexusA, 0, cawCDB(0, 0), nil, 0))
}

// TestCompareAndWriteContention increments a counter in one block from two
// goroutines with read + COMPARE AND WRITE, retrying on MISCOMPARE, while a
// third writes the neighbouring block. The final count must be exact.
func TestCompareAndWriteContention(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	const perG = 300
	var wg, cawWG sync.WaitGroup
	for g := 0; g < 2; g++ {
		cawWG.Add(1)
		go func() {
			defer cawWG.Done()
			n := nexusA
			n.ISID = uint64(100 + g)
			tg.Execute(&Command{Nexus: n, CDB: cdb(opTestUnitReady, 6)}) // power-on UA
			buf := make([]byte, 1024)
			for done := 0; done < perG; {
				rd := &Command{Nexus: n, CDB: rw10(opRead10, 7, 1), DataIn: buf[:512]}
				tg.Execute(rd)
				if rd.Status != Good {
					t.Errorf("read status %#x", rd.Status)
					return
				}
				v := binary.BigEndian.Uint64(buf[:8])
				copy(buf[512:], buf[:512])
				binary.BigEndian.PutUint64(buf[512:], v+1)
				c := &Command{Nexus: n, CDB: cawCDB(7, 1), DataOut: buf}
				tg.Execute(c)
				switch c.Status {
				case Good:
					done++
				case CheckCondition:
					if s, _ := ParseSense(c.Sense); s.Key != KeyMiscompare {
						t.Errorf("CAW sense %+v", s)
						return
					}
				default:
					t.Errorf("CAW status %#x", c.Status)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := &Command{Nexus: nexusA, CDB: rw10(opWrite10, 8, 1), DataOut: make([]byte, 512)}
		for {
			select {
			case <-stop:
				return
			default:
				tg.Execute(w)
			}
		}
	}()
	cawWG.Wait()
	close(stop)
	wg.Wait()
	if got := binary.BigEndian.Uint64(m.b[7*512:]); got != 2*perG {
		t.Fatalf("counter %d, want %d", got, 2*perG)
	}
}

func TestRangeLockOrdersWritersAgainstExclusive(t *testing.T) {
	var r rangeLock
	r.init(9)
	ex := r.mask(100, 8)
	r.lock(ex, true)
	got := make(chan bool, 2)
	go func() { // overlapping plain writer must wait
		m := r.mask(104, 16)
		r.lock(m, false)
		got <- true
		r.unlock(m, false)
	}()
	go func() { // a write far away (another stripe) proceeds
		m := r.mask(100+(1<<11)*3, 8)
		r.lock(m, false)
		got <- false
		r.unlock(m, false)
	}()
	if first := <-got; first {
		t.Fatal("overlapping writer ran while the exclusive range was held")
	}
	select {
	case <-got:
		t.Fatal("overlapping writer ran while the exclusive range was held")
	case <-time.After(20 * time.Millisecond):
	}
	r.unlock(ex, true)
	if !<-got {
		t.Fatal("unexpected")
	}
	if r.mask(0, 0) != 0 || r.mask(0, 1<<40) != ^uint64(0) {
		t.Error("mask edge cases")
	}
}

func TestReadWriteAllocationFree(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	wr := &Command{Nexus: nexusA, CDB: rw10(opWrite10, 16, 8), DataOut: make([]byte, 4096)}
	rd := &Command{Nexus: nexusA, CDB: rw10(opRead10, 16, 8), DataIn: make([]byte, 4096)}
	if n := testing.AllocsPerRun(200, func() { tg.Execute(wr); tg.Execute(rd) }); n != 0 {
		t.Fatalf("READ/WRITE allocate %v times per run", n)
	}
	// Also with a persistent reservation held by the executing nexus.
	pr := proutCDB(proutRegisterIgnore, 0, 0)
	wantGood(t, run(tg, nexusA, 0, pr, proutParams(0, 0xAA, 0), 0))
	wantGood(t, run(tg, nexusA, 0, proutCDB(proutReserve, prWriteExclusive, 0), proutParams(0xAA, 0, 0), 0))
	if n := testing.AllocsPerRun(200, func() { tg.Execute(wr); tg.Execute(rd) }); n != 0 {
		t.Fatalf("READ/WRITE under a reservation allocate %v times per run", n)
	}
}

func TestOrWriteAndWriteAtomic(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	copy(m.b[512:], bytes.Repeat([]byte{0x0F}, 512))
	wantGood(t, run(tg, nexusA, 0, rw16(opOrWrite16, 1, 1), bytes.Repeat([]byte{0xF0}, 512), 0))
	if !bytes.Equal(m.b[512:1024], bytes.Repeat([]byte{0xFF}, 512)) {
		t.Fatal("ORWRITE content")
	}
	wa := func(lba uint64, n uint16, boundary uint16) []byte {
		b := cdb(opWriteAtomic16, 16)
		binary.BigEndian.PutUint64(b[2:], lba)
		binary.BigEndian.PutUint16(b[10:], boundary)
		binary.BigEndian.PutUint16(b[12:], n)
		return b
	}
	wantGood(t, run(tg, nexusA, 0, wa(4, 2, 0), bytes.Repeat([]byte{7}, 1024), 0))
	if !bytes.Equal(m.b[4*512:6*512], bytes.Repeat([]byte{7}, 1024)) {
		t.Fatal("WRITE ATOMIC content")
	}
	wantSense(t, run(tg, nexusA, 0, wa(4, 2, 1), bytes.Repeat([]byte{7}, 1024), 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusA, 0, wa(testBlocks-1, 2, 0), make([]byte, 1024), 0), KeyIllegalRequest, ASCLBAOutOfRange)
	wantSense(t, run(tg, nexusA, 0, wa(0, 0xFFFF, 0), nil, 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusA, 0, rw16(opOrWrite16, testBlocks, 1), make([]byte, 512), 0), KeyIllegalRequest, ASCLBAOutOfRange)
}
