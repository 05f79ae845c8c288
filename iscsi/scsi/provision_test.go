package scsi

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
)

// thinBackend is a memBackend that deallocates on Unmap and tracks which
// 512-byte sectors are mapped.
type thinBackend struct {
	memBackend
	mu     sync.Mutex
	mapped []bool
}

func newThin(blocks int) *thinBackend {
	return &thinBackend{memBackend: memBackend{b: make([]byte, blocks*512)}, mapped: make([]bool, blocks)}
}

func (m *thinBackend) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	for i := off / 512; i < (off+int64(len(p))+511)/512; i++ {
		m.mapped[i] = true
	}
	m.mu.Unlock()
	return m.memBackend.WriteAt(p, off)
}

func (m *thinBackend) Unmap(off, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.b[off : off+n])
	for i := off / 512; i < (off+n)/512; i++ {
		m.mapped[i] = false
	}
	return nil
}

func (m *thinBackend) Mapped(off, length int64) (bool, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := off / 512
	st := m.mapped[i]
	var ext int64
	for ; i < int64(len(m.mapped)) && ext < length && m.mapped[i] == st; i++ {
		ext += 512
	}
	return st, min(ext, length), nil
}

func (m *thinBackend) Provisioning() (bool, bool) { return true, true }

func newThinTarget(t *testing.T) (*Target, *thinBackend) {
	t.Helper()
	m := newThin(testBlocks)
	tg, _ := newTarget(t, LUConfig{Backend: m})
	return tg, m
}

func unmapCDB(plen uint16, anchor bool) []byte {
	b := cdb(opUnmap, 10)
	binary.BigEndian.PutUint16(b[7:], plen)
	if anchor {
		b[1] = 1
	}
	return b
}

// unmapList builds an UNMAP parameter list of (lba, count) pairs.
func unmapList(pairs ...uint64) []byte {
	b := make([]byte, 8+8*len(pairs))
	binary.BigEndian.PutUint16(b[0:2], uint16(len(b)-2))
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)-8))
	for i := 0; i+1 < len(pairs); i += 2 {
		p := b[8+8*i:]
		binary.BigEndian.PutUint64(p[0:8], pairs[i])
		binary.BigEndian.PutUint32(p[8:12], uint32(pairs[i+1]))
	}
	return b
}

func getLBAStatus(lba uint64, alloc uint32) []byte {
	b := cdb(opServiceActionIn16, 16)
	b[1] = saGetLBAStatus
	binary.BigEndian.PutUint64(b[2:], lba)
	binary.BigEndian.PutUint32(b[10:], alloc)
	return b
}

func TestUnmapAndLBAStatus(t *testing.T) {
	tg, m := newThinTarget(t)
	data := bytes.Repeat([]byte{0xAB}, 64*512)
	wantGood(t, run(tg, nexusA, 0, rw10(opWrite10, 0, 64), data, 0))
	pl := unmapList(8, 8, 32, 4)
	wantGood(t, run(tg, nexusA, 0, unmapCDB(uint16(len(pl)), false), pl, 0))
	for i, want := range []bool{true, false, true, false, true} {
		lba := []int{0, 8, 16, 32, 36}[i]
		if m.mapped[lba] != want {
			t.Errorf("lba %d mapped=%v", lba, m.mapped[lba])
		}
	}
	c := run(tg, nexusA, 0, getLBAStatus(0, 8+16*8), nil, 8+16*8)
	wantGood(t, c)
	d := c.DataIn[:c.InLen]
	type ext struct {
		lba uint64
		n   uint32
		st  byte
	}
	want := []ext{{0, 8, 0}, {8, 8, 1}, {16, 16, 0}, {32, 4, 1}, {36, 28, 0}, {64, testBlocks - 64, 1}}
	if int(binary.BigEndian.Uint32(d[0:4])) != 4+16*len(want) {
		t.Fatalf("status length %d: % x", binary.BigEndian.Uint32(d[0:4]), d)
	}
	for i, w := range want {
		p := d[8+16*i:]
		got := ext{binary.BigEndian.Uint64(p), binary.BigEndian.Uint32(p[8:]), p[12] & 0x0F}
		if got != w {
			t.Errorf("descriptor %d = %+v, want %+v", i, got, w)
		}
	}
	// Deallocated blocks read as zeros (LBPRZ).
	c = run(tg, nexusA, 0, rw10(opRead10, 8, 1), nil, 512)
	wantGood(t, c)
	if !allZero(c.DataIn) {
		t.Error("unmapped block not zero")
	}
	// GET LBA STATUS beyond the end.
	wantSense(t, run(tg, nexusA, 0, getLBAStatus(testBlocks, 64), nil, 64), KeyIllegalRequest, ASCLBAOutOfRange)
	// Small allocation length still reports one descriptor.
	c = run(tg, nexusA, 0, getLBAStatus(0, 24), nil, 24)
	wantGood(t, c)
	if c.InLen != 24 {
		t.Errorf("alloc 24 gave %d", c.InLen)
	}
}

func TestUnmapBadParameterLists(t *testing.T) {
	tg, m := newThinTarget(t)
	wantGood(t, run(tg, nexusA, 0, rw10(opWrite10, 0, 16), bytes.Repeat([]byte{1}, 16*512), 0))
	good := unmapList(0, 4)
	tooMany := unmapList(make([]uint64, 2*(maxUnmapDescriptors+1))...)
	big := unmapList(0, maxUnmapLBAs+1)
	partialOOB := unmapList(0, 4, testBlocks-2, 4) // second descriptor out of range: nothing may be unmapped
	udlTooLong := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(udlTooLong[0:2], 100)
	for _, tc := range []struct {
		name string
		cdb  []byte
		data []byte
		key  byte
		asc  ASC
	}{
		{"plen 7", unmapCDB(7, false), good, KeyIllegalRequest, ASCParamListLengthError},
		{"data shorter than plen", unmapCDB(64, false), good, KeyIllegalRequest, ASCParamListLengthError},
		{"anchor", unmapCDB(uint16(len(good)), true), good, KeyIllegalRequest, ASCInvalidFieldInCDB},
		{"too many descriptors", unmapCDB(uint16(len(tooMany)), false), tooMany, KeyIllegalRequest, ASCInvalidFieldInParamList},
		{"count above limit", unmapCDB(uint16(len(big)), false), big, KeyIllegalRequest, ASCInvalidFieldInParamList},
		{"lba out of range", unmapCDB(uint16(len(partialOOB)), false), partialOOB, KeyIllegalRequest, ASCLBAOutOfRange},
		{"unmap data length too long", unmapCDB(uint16(len(udlTooLong)), false), udlTooLong, KeyIllegalRequest, ASCParamListLengthError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantSense(t, run(tg, nexusA, 0, tc.cdb, tc.data, 0), tc.key, tc.asc)
			if !m.mapped[0] {
				t.Fatal("a rejected UNMAP deallocated blocks")
			}
		})
	}
	// Parameter list length zero is not an error.
	wantGood(t, run(tg, nexusA, 0, unmapCDB(0, false), nil, 0))
	// A fully provisioned unit does not support UNMAP.
	tg2, _ := newTarget(t, LUConfig{})
	wantSense(t, run(tg2, nexusA, 0, unmapCDB(uint16(len(good)), false), good, 0), KeyIllegalRequest, ASCInvalidOpcode)
}

func writeSame(op byte, lba uint64, n uint32, flags byte) []byte {
	if op == opWriteSame10 {
		b := rw10(op, uint32(lba), uint16(n))
		b[1] = flags
		return b
	}
	b := rw16(op, lba, n)
	b[1] = flags
	return b
}

func TestWriteSame(t *testing.T) {
	tg, m := newThinTarget(t)
	pat := bytes.Repeat([]byte{0x5A}, 512)
	wantGood(t, run(tg, nexusA, 0, writeSame(opWriteSame10, 10, 20, 0), pat, 0))
	if !bytes.Equal(m.b[10*512:30*512], bytes.Repeat(pat, 20)) || m.b[30*512] != 0 || m.b[10*512-1] != 0 {
		t.Fatal("WRITE SAME(10) content")
	}
	// UNMAP with a zero block deallocates.
	wantGood(t, run(tg, nexusA, 0, writeSame(opWriteSame16, 10, 10, 0x08), make([]byte, 512), 0))
	if m.mapped[12] || !m.mapped[25] {
		t.Fatal("WRITE SAME(16) UNMAP did not deallocate exactly the range")
	}
	// UNMAP with a non-zero block writes the data.
	wantGood(t, run(tg, nexusA, 0, writeSame(opWriteSame16, 40, 2, 0x08), pat, 0))
	if !bytes.Equal(m.b[40*512:42*512], bytes.Repeat(pat, 2)) {
		t.Fatal("WRITE SAME UNMAP with data")
	}
	// NDOB: no data-out buffer, zeros.
	wantGood(t, run(tg, nexusA, 0, writeSame(opWriteSame16, 20, 10, 0x09), nil, 0))
	if m.mapped[22] || !allZero(m.b[20*512:30*512]) {
		t.Fatal("NDOB+UNMAP")
	}
	for _, tc := range []struct {
		name string
		cdb  []byte
		data []byte
		asc  ASC
	}{
		{"anchor", writeSame(opWriteSame10, 0, 1, 0x18), pat, ASCInvalidFieldInCDB},
		{"wrprotect", writeSame(opWriteSame16, 0, 1, 0x20), pat, ASCInvalidFieldInCDB},
		{"zero blocks (WSNZ)", writeSame(opWriteSame10, 0, 0, 0), pat, ASCInvalidFieldInCDB},
		{"above MAXIMUM WRITE SAME LENGTH", writeSame(opWriteSame16, 0, maxWriteSameBlocks+1, 0), pat, ASCInvalidFieldInCDB},
		{"beyond end", writeSame(opWriteSame16, testBlocks-1, 2, 0), pat, ASCLBAOutOfRange},
		{"zero blocks beyond end", writeSame(opWriteSame10, testBlocks+1, 0, 0), pat, ASCLBAOutOfRange},
		{"short data", writeSame(opWriteSame10, 0, 1, 0), pat[:100], ASCInvalidFieldInIU},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantSense(t, run(tg, nexusA, 0, tc.cdb, tc.data, 0), KeyIllegalRequest, tc.asc)
		})
	}
	// UNMAP on a fully provisioned unit is an invalid field.
	tg2, _ := newTarget(t, LUConfig{})
	wantSense(t, run(tg2, nexusA, 0, writeSame(opWriteSame16, 0, 1, 0x08), pat, 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
}

func TestProvisioningVPD(t *testing.T) {
	for _, thin := range []bool{false, true} {
		var tg *Target
		if thin {
			tg, _ = newThinTarget(t)
		} else {
			tg, _ = newTarget(t, LUConfig{})
		}
		c := run(tg, nexusA, 0, inquiry(true, vpdBlockLimits, 64), nil, 64)
		wantGood(t, c)
		bl := c.DataIn[:c.InLen]
		maxUnmap := binary.BigEndian.Uint32(bl[20:24])
		maxDesc := binary.BigEndian.Uint32(bl[24:28])
		maxWS := binary.BigEndian.Uint64(bl[36:44])
		if bl[4]&1 != 1 || bl[5] != maxCompareAndWriteBlocks || maxWS != maxWriteSameBlocks {
			t.Errorf("thin=%v: WSNZ/MAX CAW/MAX WS % x", thin, bl[4:6])
		}
		if thin != (maxUnmap == maxUnmapLBAs && maxDesc == maxUnmapDescriptors) || !thin && (maxUnmap|maxDesc) != 0 {
			t.Errorf("thin=%v: unmap limits %d %d", thin, maxUnmap, maxDesc)
		}
		if binary.BigEndian.Uint32(bl[44:48]) == 0 {
			t.Error("MAXIMUM ATOMIC TRANSFER LENGTH zero")
		}
		c = run(tg, nexusA, 0, inquiry(true, vpdLBP, 64), nil, 64)
		wantGood(t, c)
		lbp := c.DataIn[:c.InLen]
		wantLBP := byte(0)
		if thin {
			wantLBP = 0xE4
		}
		if lbp[5] != wantLBP || (lbp[6]&7 == 2) != thin {
			t.Errorf("thin=%v: LBP page % x", thin, lbp)
		}
		rc := cdb(opServiceActionIn16, 16)
		rc[1] = saReadCapacity16
		rc[13] = 32
		c = run(tg, nexusA, 0, rc, nil, 32)
		wantGood(t, c)
		if (c.DataIn[14]&0xC0 == 0xC0) != thin {
			t.Errorf("thin=%v: RC16 byte 14 %#x", thin, c.DataIn[14])
		}
	}
}
