package scsi

import (
	"encoding/binary"
	"testing"
)

func modeSense6(dbd bool, pc, page, sub byte, alloc byte) []byte {
	b := []byte{opModeSense6, 0, pc<<6 | page, sub, alloc, 0}
	if dbd {
		b[1] = 0x08
	}
	return b
}

func modeSense10(llbaa, dbd bool, pc, page byte, alloc uint16) []byte {
	b := cdb(opModeSense10, 10)
	if llbaa {
		b[1] |= 0x10
	}
	if dbd {
		b[1] |= 0x08
	}
	b[2] = pc<<6 | page
	binary.BigEndian.PutUint16(b[7:], alloc)
	return b
}

// pages splits mode page data into page code -> page bytes.
func pages(t *testing.T, d []byte) map[byte][]byte {
	t.Helper()
	m := map[byte][]byte{}
	for len(d) > 0 {
		if len(d) < 2 || int(d[1])+2 > len(d) {
			t.Fatalf("truncated page % x", d)
		}
		m[d[0]&0x3F] = d[:d[1]+2]
		d = d[d[1]+2:]
	}
	return m
}

func TestModeSense(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{WriteBack: true, ReadOnly: true, BlockSize: 4096})
	c := run(tg, nexusA, 0, modeSense6(false, pcCurrent, pageAllPages, 0, 255), nil, 255)
	wantGood(t, c)
	d := c.DataIn[:c.InLen]
	if int(d[0])+1 != len(d) || d[2] != 0x90 || d[3] != 8 {
		t.Fatalf("header % x", d[:4])
	}
	if binary.BigEndian.Uint32(d[4:]) != testBlocks || uint32(d[9])<<16|uint32(d[10])<<8|uint32(d[11]) != 4096 {
		t.Errorf("block descriptor % x", d[4:12])
	}
	p := pages(t, d[12:])
	if len(p) != 3 || p[pageCaching][2]&0x04 == 0 || p[pageControl][2]&0x04 != 0 || p[pageInfoExc] == nil {
		t.Fatalf("pages %v", p)
	}
	// Changeable values.
	c = run(tg, nexusA, 0, modeSense6(true, pcChangeable, pageAllPages, 0xFF, 255), nil, 255)
	wantGood(t, c)
	p = pages(t, c.DataIn[4:c.InLen])
	if p[pageCaching][2] != 0x04 || p[pageControl][2] != 0x04 || p[pageInfoExc][2] != 0 {
		t.Errorf("changeable %v", p)
	}
	// Long LBA block descriptor via MODE SENSE(10).
	c = run(tg, nexusA, 0, modeSense10(true, false, pcDefault, pageCaching, 512), nil, 512)
	wantGood(t, c)
	d = c.DataIn[:c.InLen]
	if int(binary.BigEndian.Uint16(d))+2 != len(d) || d[4]&1 != 1 || binary.BigEndian.Uint16(d[6:]) != 16 ||
		binary.BigEndian.Uint64(d[8:]) != testBlocks || binary.BigEndian.Uint32(d[20:]) != 4096 || len(d) != 8+16+20 {
		t.Errorf("mode sense 10 % x", d)
	}
	// Errors.
	s := wantSense(t, run(tg, nexusA, 0, modeSense6(false, pcSaved, pageCaching, 0, 255), nil, 255), KeyIllegalRequest, ASCSavingParamsUnsupported)
	if s.SKS != FieldPointer(true, 2, 7) {
		t.Errorf("saved fp %x", s.SKS)
	}
	wantSense(t, run(tg, nexusA, 0, modeSense6(false, 0, 0x19, 0, 255), nil, 255), KeyIllegalRequest, ASCInvalidFieldInCDB)
	wantSense(t, run(tg, nexusA, 0, modeSense6(false, 0, pageControl, 1, 255), nil, 255), KeyIllegalRequest, ASCInvalidFieldInCDB)
	// Truncation.
	c = run(tg, nexusA, 0, modeSense6(false, 0, pageAllPages, 0, 4), nil, 255)
	if c.InLen != 4 {
		t.Errorf("alloc 4 gave %d", c.InLen)
	}
}

func modeSelect6(sp bool, data []byte) []byte {
	b := []byte{opModeSelect6, 0x10, 0, 0, byte(len(data)), 0}
	if sp {
		b[1] |= 1
	}
	return b
}

func TestModeSelect(t *testing.T) {
	tg, m := newTarget(t, LUConfig{WriteBack: true})
	wantGood(t, run(tg, nexusB, 0, cdb(opRequestSense, 6), nil, 0)) // nexus B known
	// Turn on D_SENSE and turn off WCE.
	param := append([]byte{0, 0, 0, 0},
		pageControl, 0x0A, 0x04, 0x10, 0, 0, 0, 0, 0, 0, 0, 0)
	param = append(param, pageCaching, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	before := m.flushes()
	wantGood(t, run(tg, nexusA, 0, modeSelect6(false, param), param, 0))
	if m.flushes() == before {
		t.Error("turning off WCE did not flush")
	}
	l := tg.lookup(0)
	if !l.dsense.Load() || l.wce.Load() {
		t.Fatalf("dsense %v wce %v", l.dsense.Load(), l.wce.Load())
	}
	// Nexus B is told; A is not.
	wantSense(t, run(tg, nexusB, 0, cdb(opTestUnitReady, 6), nil, 0), KeyUnitAttention, ASCModeParametersChanged)
	wantGood(t, run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0))
	// Sense is now descriptor format.
	c := run(tg, nexusA, 0, rw10(opRead10, testBlocks, 1), nil, 512)
	if c.Sense[0] != 0x72 {
		t.Fatalf("D_SENSE ignored: % x", c.Sense)
	}
	wantSense(t, c, KeyIllegalRequest, ASCLBAOutOfRange)
	// Write-through now: writes flush.
	before = m.flushes()
	wantGood(t, run(tg, nexusA, 0, rw10(opWrite10, 0, 1), make([]byte, 512), 0))
	if m.flushes() != before+1 {
		t.Error("write-through after MODE SELECT did not flush")
	}

	bad := []struct {
		name  string
		data  []byte
		sp    bool
		asc   ASC
		fp    [3]byte
		short int
	}{
		{"save pages", param, true, ASCInvalidFieldInCDB, FieldPointer(true, 1, 0), 0},
		{"unchangeable bit", append([]byte{0, 0, 0, 0}, pageControl, 0x0A, 0x04, 0x10, 0x80, 0, 0, 0, 0, 0, 0, 0), false, ASCInvalidFieldInParamList, FieldPointer(false, 8, 7), 0},
		{"unknown page", append([]byte{0, 0, 0, 0}, 0x19, 0x02, 0, 0), false, ASCInvalidFieldInParamList, FieldPointer(false, 4, 5), 0},
		{"bad page length", append([]byte{0, 0, 0, 0}, pageControl, 0x08, 0, 0, 0, 0, 0, 0, 0, 0), false, ASCInvalidFieldInParamList, FieldPointer(false, 5, 7), 0},
		{"PS set", append([]byte{0, 0, 0, 0}, 0x80|pageControl, 0x0A, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0), false, ASCInvalidFieldInParamList, FieldPointer(false, 4, 7), 0},
		{"bad block length", []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 4, 0}, false, ASCInvalidFieldInParamList, FieldPointer(false, 9, 7), 0},
		{"truncated data", param, false, ASCParamListLengthError, [3]byte{}, 6},
	}
	for _, tc := range bad {
		out := tc.data[:len(tc.data)-tc.short]
		c := run(tg, nexusA, 0, modeSelect6(tc.sp, tc.data), out, 0)
		s := wantSense(t, c, KeyIllegalRequest, tc.asc)
		if s.SKS != tc.fp {
			t.Errorf("%s: fp %x want %x", tc.name, s.SKS, tc.fp)
		}
	}
	// Matching block descriptor and empty list are fine.
	wantGood(t, run(tg, nexusA, 0, modeSelect6(false, []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 2, 0}), []byte{0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 2, 0}, 0))
	wantGood(t, run(tg, nexusA, 0, modeSelect6(false, nil), nil, 0))
	// MODE SELECT(10) restores D_SENSE=0.
	p10 := append([]byte{0, 0, 0, 0, 0, 0, 0, 0}, pageControl, 0x0A, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0)
	s10 := cdb(opModeSelect10, 10)
	s10[1] = 0x10
	s10[8] = byte(len(p10))
	wantGood(t, run(tg, nexusA, 0, s10, p10, 0))
	if l.dsense.Load() {
		t.Error("MODE SELECT(10) did not clear D_SENSE")
	}
	// Cold reset restores defaults.
	l.wce.Store(false)
	tg.Reset(TargetColdReset, 0, nexusA)
	if !l.wce.Load() {
		t.Error("cold reset kept WCE=0")
	}
}
