package scsi

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

func xcopyCDB(plen uint32) []byte {
	b := cdb(opExtendedCopy, 16)
	binary.BigEndian.PutUint32(b[10:], plen)
	return b
}

// cscdFor builds an identification CSCD descriptor naming l by its NAA
// designator.
func cscdFor(l *lu) []byte {
	d := make([]byte, 32)
	d[0] = cscdIdentification
	d[4] = 1    // binary
	d[5] = 0x03 // LU association, NAA
	d[7] = byte(len(l.naa))
	copy(d[8:], l.naa)
	d[29], d[30], d[31] = byte(l.bs>>16), byte(l.bs>>8), byte(l.bs)
	return d
}

func seg(src, dst uint16, n uint16, srcLBA, dstLBA uint64) []byte {
	d := make([]byte, 28)
	d[0] = segBlockToBlock
	binary.BigEndian.PutUint16(d[2:], 24)
	binary.BigEndian.PutUint16(d[4:], src)
	binary.BigEndian.PutUint16(d[6:], dst)
	binary.BigEndian.PutUint16(d[10:], n)
	binary.BigEndian.PutUint64(d[12:], srcLBA)
	binary.BigEndian.PutUint64(d[20:], dstLBA)
	return d
}

func xcopyList(listID byte, cscds [][]byte, segs [][]byte) []byte {
	b := make([]byte, 16)
	b[0] = listID
	var cl, sl int
	for _, c := range cscds {
		b = append(b, c...)
		cl += len(c)
	}
	for _, s := range segs {
		b = append(b, s...)
		sl += len(s)
	}
	binary.BigEndian.PutUint16(b[2:], uint16(cl))
	binary.BigEndian.PutUint32(b[8:], uint32(sl))
	return b
}

func TestExtendedCopy(t *testing.T) {
	tg, m0 := newTarget(t, LUConfig{})
	m1 := &memBackend{b: make([]byte, testBlocks*512)}
	if err := tg.AddLU(1, LUConfig{Backend: m1}); err != nil {
		t.Fatal(err)
	}
	run(tg, nexusA, 0, cdb(opTestUnitReady, 6), nil, 0) // REPORTED LUNS DATA HAS CHANGED
	l0, l1 := tg.lookup(0), tg.lookup(1)
	for i := range m0.b[:64*512] {
		m0.b[i] = byte(i * 7)
	}
	// Same LU and across LUs, in one command.
	p := xcopyList(5, [][]byte{cscdFor(l0), cscdFor(l1)}, [][]byte{seg(0, 0, 16, 0, 100), seg(0, 1, 64, 0, 10)})
	wantGood(t, run(tg, nexusA, 0, xcopyCDB(uint32(len(p))), p, 0))
	if !bytes.Equal(m0.b[100*512:116*512], m0.b[:16*512]) || !bytes.Equal(m1.b[10*512:74*512], m0.b[:64*512]) {
		t.Fatal("copied data differ")
	}
	rcr := func(sa, id byte) *Command {
		b := cdb(opReceiveCopyResults, 16)
		b[1], b[2] = sa, id
		binary.BigEndian.PutUint32(b[10:], 256)
		return run(tg, nexusA, 0, b, nil, 256)
	}
	c := rcr(rcrCopyStatus, 5)
	wantGood(t, c)
	if c.DataIn[4] != 1 || binary.BigEndian.Uint16(c.DataIn[5:]) != 2 || binary.BigEndian.Uint32(c.DataIn[8:]) != 80*512 {
		t.Errorf("copy status % x", c.DataIn[:12])
	}
	wantSense(t, rcr(rcrCopyStatus, 6), KeyIllegalRequest, ASCInvalidFieldInCDB)
	c = rcr(rcrOpParams, 0)
	wantGood(t, c)
	if binary.BigEndian.Uint16(c.DataIn[8:]) != xcopyMaxCSCDs || binary.BigEndian.Uint16(c.DataIn[10:]) != xcopyMaxSegments {
		t.Errorf("op params % x", c.DataIn[:16])
	}
	// VPD 8Fh and the 3PC bit.
	wantGood(t, run(tg, nexusA, 0, inquiry(true, vpd3PC, 255), nil, 255))
	if c := run(tg, nexusA, 0, inquiry(false, 0, 36), nil, 36); c.DataIn[5]&0x08 == 0 {
		t.Error("3PC not set")
	}

	before := append([]byte(nil), m0.b[200*512:210*512]...)
	unknown := cscdFor(l0)
	unknown[8] ^= 0xFF
	null := cscdFor(l0)
	null[1] |= 0x20
	fcDesc := cscdFor(l0)
	fcDesc[0] = 0xE0
	streamSeg := seg(0, 0, 1, 0, 200)
	streamSeg[0] = 0x03
	many := make([][]byte, xcopyMaxCSCDs+1)
	for i := range many {
		many[i] = cscdFor(l0)
	}
	manySegs := make([][]byte, xcopyMaxSegments+1)
	for i := range manySegs {
		manySegs[i] = seg(0, 0, 1, 0, 200)
	}
	good := xcopyList(1, [][]byte{cscdFor(l0)}, [][]byte{seg(0, 0, 10, 0, 200)})
	for _, tc := range []struct {
		name string
		list []byte
		plen int
		key  byte
		asc  ASC
	}{
		{"truncated cscd", good, 16 + 31, KeyIllegalRequest, ASCParamListLengthError},
		{"truncated segment", good, len(good) - 1, KeyIllegalRequest, ASCParamListLengthError},
		{"header only, short", good, 10, KeyIllegalRequest, ASCParamListLengthError},
		{"too many cscds", xcopyList(1, many, [][]byte{seg(0, 0, 1, 0, 200)}), 0, KeyIllegalRequest, ASCTooManyTargetDescs},
		{"too many segments", xcopyList(1, [][]byte{cscdFor(l0)}, manySegs), 0, KeyIllegalRequest, ASCTooManySegmentDescs},
		{"list too long", xcopyList(1, many, manySegs), 0, KeyIllegalRequest, ASCParamListLengthError},
		{"fc cscd", xcopyList(1, [][]byte{fcDesc}, [][]byte{seg(0, 0, 1, 0, 200)}), 0, KeyIllegalRequest, ASCUnsupportedTargetDesc},
		{"stream segment", xcopyList(1, [][]byte{cscdFor(l0)}, [][]byte{streamSeg}), 0, KeyIllegalRequest, ASCUnsupportedSegmentDesc},
		{"bad cscd index", xcopyList(1, [][]byte{cscdFor(l0)}, [][]byte{seg(0, 1, 1, 0, 200)}), 0, KeyCopyAborted, ASCCopyTargetUnreachable},
		{"unknown lu", xcopyList(1, [][]byte{unknown}, [][]byte{seg(0, 0, 1, 0, 200)}), 0, KeyCopyAborted, ASCCopyTargetUnreachable},
		{"null cscd", xcopyList(1, [][]byte{null}, [][]byte{seg(0, 0, 1, 0, 200)}), 0, KeyCopyAborted, ASCCopyTargetUnreachable},
		{"beyond end", xcopyList(1, [][]byte{cscdFor(l0)}, [][]byte{seg(0, 0, 1, 0, 200), seg(0, 0, 4, 0, testBlocks-1)}), 0, KeyCopyAborted, ASCNoAdditional},
		{"overlapping", xcopyList(1, [][]byte{cscdFor(l0)}, [][]byte{seg(0, 0, 1, 0, 200), seg(0, 0, 10, 200, 205)}), 0, KeyIllegalRequest, ASCInvalidFieldInParamList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plen := tc.plen
			if plen == 0 {
				plen = len(tc.list)
			}
			wantSense(t, run(tg, nexusA, 0, xcopyCDB(uint32(plen)), tc.list[:plen], 0), tc.key, tc.asc)
			if !bytes.Equal(m0.b[200*512:210*512], before) {
				t.Fatal("rejected EXTENDED COPY wrote data")
			}
		})
	}
	wantGood(t, run(tg, nexusA, 0, xcopyCDB(0), nil, 0))

	// A reservation on the destination LU held by another nexus conflicts.
	run(tg, nexusB, 1, cdb(opTestUnitReady, 6), nil, 0)
	wantGood(t, run(tg, nexusB, 1, proutCDB(proutRegisterIgnore, 0, 0), proutParams(0, 0xB, 0), 0))
	wantGood(t, run(tg, nexusB, 1, proutCDB(proutReserve, prWriteExclusive, 0), proutParams(0xB, 0, 0), 0))
	p = xcopyList(7, [][]byte{cscdFor(l0), cscdFor(l1)}, [][]byte{seg(0, 1, 4, 0, 300)})
	wantConflict(t, run(tg, nexusA, 0, xcopyCDB(uint32(len(p))), p, 0))
	p = xcopyList(7, [][]byte{cscdFor(l1), cscdFor(l0)}, [][]byte{seg(0, 1, 4, 0, 300)}) // reading it is allowed
	wantGood(t, run(tg, nexusA, 0, xcopyCDB(uint32(len(p))), p, 0))
}

func sanitizeCDB(sa byte, immed bool, plen uint16) []byte {
	b := cdb(opSanitize, 10)
	b[1] = sa
	if immed {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[7:], plen)
	return b
}

func TestSanitize(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	for i := range m.b {
		m.b[i] = 0xEE
	}
	p := append([]byte{0x80 | 2, 0, 0, 3}, 1, 2, 3)
	wantGood(t, run(tg, nexusA, 0, sanitizeCDB(sanOverwrite, false, uint16(len(p))), p, 0))
	// Two passes with INVERT: the last pass writes the inverted pattern.
	want := []byte{^byte(1), ^byte(2), ^byte(3)}
	for i := 0; i < len(m.b); i += 512 {
		for j := 0; j < 512; j++ {
			if m.b[i+j] != want[j%3] {
				t.Fatalf("byte %d = %#x", i+j, m.b[i+j])
			}
		}
	}
	// Background sanitize: other commands get NOT READY with progress;
	// REQUEST SENSE reports it.
	wantGood(t, run(tg, nexusA, 0, sanitizeCDB(sanCrypto, true, 0), nil, 0))
	deadline := time.Now().Add(10 * time.Second)
	for tg.lookup(0).sanitizing.Load() && time.Now().Before(deadline) {
		c := run(tg, nexusA, 0, rw10(opRead10, 0, 1), nil, 512)
		if c.Status != Good {
			wantSense(t, c, KeyNotReady, ASCSanitizeInProgress)
		}
		time.Sleep(time.Millisecond)
	}
	if !allZero(m.b) {
		t.Fatal("crypto erase did not zero")
	}
	for _, tc := range []struct {
		name string
		cdb  []byte
		data []byte
		asc  ASC
	}{
		{"overwrite plen 4", sanitizeCDB(sanOverwrite, false, 4), p[:4], ASCInvalidFieldInCDB},
		{"overwrite pattern too long", sanitizeCDB(sanOverwrite, false, 517), make([]byte, 517), ASCInvalidFieldInCDB},
		{"overwrite length mismatch", sanitizeCDB(sanOverwrite, false, 6), p[:6], ASCParamListLengthError},
		{"overwrite count 0", sanitizeCDB(sanOverwrite, false, 7), append([]byte{0, 0, 0, 3}, 1, 2, 3), ASCInvalidFieldInParamList},
		{"block erase with data", sanitizeCDB(sanBlockErase, false, 4), p[:4], ASCInvalidFieldInCDB},
		{"bad service action", sanitizeCDB(0x05, false, 0), nil, ASCInvalidFieldInCDB},
		{"reserved byte", func() []byte { b := sanitizeCDB(sanBlockErase, false, 0); b[3] = 1; return b }(), nil, ASCInvalidFieldInCDB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantSense(t, run(tg, nexusA, 0, tc.cdb, tc.data, 0), KeyIllegalRequest, tc.asc)
		})
	}
	wantGood(t, run(tg, nexusA, 0, sanitizeCDB(sanExitFail, false, 0), nil, 0))

	// An aborted (non-IMMED) SANITIZE returns at once; the operation goes on.
	big := &memBackend{b: make([]byte, 64<<20)} // paced: about half a second
	if err := tg.AddLU(2, LUConfig{Backend: big}); err != nil {
		t.Fatal(err)
	}
	run(tg, nexusA, 2, cdb(opTestUnitReady, 6), nil, 0)
	abort := make(chan struct{})
	close(abort)
	c := &Command{Nexus: nexusA, LUN: 2, CDB: sanitizeCDB(sanCrypto, false, 0), Abort: abort}
	tg.Execute(c)
	if !tg.lookup(2).sanitizing.Load() {
		t.Fatal("aborted SANITIZE waited for the operation")
	}
	c = run(tg, nexusA, 2, cdb(opRequestSense, 6), nil, 18)
	c.CDB[4] = 18
	tg.Execute(c)
	if s, _ := ParseSense(c.DataIn[:c.InLen]); s.Key != KeyNotReady || s.ASC != ASCSanitizeInProgress || s.SKS[0] != 0x80 {
		t.Errorf("REQUEST SENSE during sanitize: %+v", s)
	}
	for tg.lookup(2).sanitizing.Load() {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadDefectData(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	c := run(tg, nexusA, 0, []byte{opReadDefectData10, 0, 0x18 | 5, 0, 0, 0, 0, 0, 64, 0}, nil, 64)
	wantGood(t, c)
	if c.InLen != 4 || c.DataIn[1] != 0x1D || c.DataIn[2]|c.DataIn[3] != 0 {
		t.Errorf("RDD10 % x", c.DataIn[:c.InLen])
	}
	c = run(tg, nexusA, 0, []byte{opReadDefectData12, 0x08 | 3, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0}, nil, 64)
	wantGood(t, c)
	if c.InLen != 8 || c.DataIn[1] != 0x0B || binary.BigEndian.Uint32(c.DataIn[4:]) != 0 {
		t.Errorf("RDD12 % x", c.DataIn[:c.InLen])
	}
}
