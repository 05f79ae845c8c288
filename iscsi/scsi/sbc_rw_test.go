package scsi

import (
	"bytes"
	"testing"
)

func TestReadWriteRoundTrip(t *testing.T) {
	for _, bs := range []uint32{512, 4096} {
		tg, _ := newTarget(t, LUConfig{BlockSize: bs})
		pat := bytes.Repeat([]byte{0xA5, 0x5A, 1, 2}, int(bs)*3/4)
		cases := []struct {
			name   string
			wr, rd []byte
		}{
			{"6", []byte{opWrite6, 0, 0, 7, 3, 0}, []byte{opRead6, 0, 0, 7, 3, 0}},
			{"10", rw10(opWrite10, 9, 3), rw10(opRead10, 9, 3)},
			{"12", rw12(opWrite12, 20, 3), rw12(opRead12, 20, 3)},
			{"16", rw16(opWrite16, 40, 3), rw16(opRead16, 40, 3)},
			{"wv10", rw10(opWriteVerify10, 60, 3), rw10(opRead10, 60, 3)},
			{"wv12", rw12(opWriteVerify12, 70, 3), rw12(opRead12, 70, 3)},
			{"wv16", rw16(opWriteVerify16, 80, 3), rw16(opRead16, 80, 3)},
		}
		for _, tc := range cases {
			w := run(tg, nexusA, 0, tc.wr, pat, 0)
			wantGood(t, w)
			if w.Needed != len(pat) {
				t.Fatalf("%s: write Needed %d want %d", tc.name, w.Needed, len(pat))
			}
			r := run(tg, nexusA, 0, tc.rd, nil, len(pat))
			wantGood(t, r)
			if r.InLen != len(pat) || r.Needed != len(pat) || !bytes.Equal(r.DataIn, pat) {
				t.Fatalf("bs %d %s: read back mismatch (InLen %d)", bs, tc.name, r.InLen)
			}
		}
	}
}

func TestReadWriteErrors(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{MaxTransferBytes: 64 << 10})
	blk := make([]byte, 512)
	flags10 := func(op byte, f byte) []byte { b := rw10(op, 0, 1); b[1] = f; return b }
	tests := []struct {
		name string
		cdb  []byte
		out  []byte
		key  byte
		asc  ASC
		fp   [3]byte
	}{
		{"read10 beyond end", rw10(opRead10, testBlocks, 1), nil, KeyIllegalRequest, ASCLBAOutOfRange, [3]byte{}},
		{"read10 straddles end", rw10(opRead10, testBlocks-1, 2), nil, KeyIllegalRequest, ASCLBAOutOfRange, [3]byte{}},
		{"read16 lba -1", rw16(opRead16, ^uint64(0), 1), nil, KeyIllegalRequest, ASCLBAOutOfRange, [3]byte{}},
		{"read16 2^63", rw16(opRead16, 1<<63, 1), nil, KeyIllegalRequest, ASCLBAOutOfRange, [3]byte{}},
		{"write10 0 blocks past end", rw10(opWrite10, testBlocks+1, 0), nil, KeyIllegalRequest, ASCLBAOutOfRange, [3]byte{}},
		{"write12 beyond", rw12(opWrite12, testBlocks, 1), blk, KeyIllegalRequest, ASCLBAOutOfRange, [3]byte{}},
		{"read6 256 blocks at end", []byte{opRead6, 0, 0x07, 0x01, 0, 0}, nil, KeyIllegalRequest, ASCLBAOutOfRange, [3]byte{}},
		{"rdprotect", flags10(opRead10, 0x20), nil, KeyIllegalRequest, ASCInvalidFieldInCDB, FieldPointer(true, 1, 7)},
		{"wrprotect", flags10(opWrite10, 0x40), blk, KeyIllegalRequest, ASCInvalidFieldInCDB, FieldPointer(true, 1, 7)},
		{"naca", append(rw10(opRead10, 0, 1)[:9], 0x04), nil, KeyIllegalRequest, ASCInvalidFieldInCDB, FieldPointer(true, 9, 2)},
		{"too long", rw12(opRead12, 0, 129), nil, KeyIllegalRequest, ASCInvalidFieldInCDB, FieldPointer(true, 6, 7)},
		{"write partial block", rw10(opWrite10, 0, 1), blk[:200], KeyIllegalRequest, ASCInvalidFieldInIU, [3]byte{}},
		{"short cdb", []byte{opRead10, 0, 0}, nil, KeyIllegalRequest, ASCInvalidOpcode, [3]byte{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := run(tg, nexusA, 0, tc.cdb, tc.out, 4096)
			s := wantSense(t, c, tc.key, tc.asc)
			if s.SKS != tc.fp {
				t.Errorf("field pointer %x want %x", s.SKS, tc.fp)
			}
			if c.InLen != 0 {
				t.Errorf("InLen %d on error", c.InLen)
			}
		})
	}
}

func TestReadWriteFlagsAccepted(t *testing.T) {
	tg, m := newTarget(t, LUConfig{WriteBack: true})
	for _, f := range []byte{0x10, 0x08, 0x02, 0x18, 0x1A} {
		r := rw10(opRead10, 0, 1)
		r[1] = f
		wantGood(t, run(tg, nexusA, 0, r, nil, 512))
		w := rw10(opWrite10, 0, 1)
		w[1] = f
		before := m.flushes()
		wantGood(t, run(tg, nexusA, 0, w, make([]byte, 512), 0))
		if fua := f&0x08 != 0; fua != (m.flushes() > before) {
			t.Errorf("flags %#x: flushed=%v, FUA=%v", f, m.flushes() > before, fua)
		}
	}
}

func TestWriteThroughFlushes(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	before := m.flushes()
	wantGood(t, run(tg, nexusA, 0, rw10(opWrite10, 0, 1), make([]byte, 512), 0))
	if m.flushes() != before+1 {
		t.Fatalf("write-through write flushed %d times", m.flushes()-before)
	}
}

func TestZeroLengthTransfers(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	for _, c := range [][]byte{rw10(opRead10, 0, 0), rw10(opWrite10, 0, 0), rw16(opRead16, testBlocks, 0), rw12(opWrite12, 5, 0)} {
		cmd := run(tg, nexusA, 0, c, nil, 0)
		wantGood(t, cmd)
		if cmd.Needed != 0 {
			t.Errorf("%x: Needed %d", c, cmd.Needed)
		}
	}
	// READ(6) with length 0 transfers 256 blocks.
	c := run(tg, nexusA, 0, []byte{opRead6, 0, 0, 0, 0, 0}, nil, 256*512)
	wantGood(t, c)
	if c.Needed != 256*512 || c.InLen != 256*512 {
		t.Fatalf("READ(6) len 0: Needed %d InLen %d", c.Needed, c.InLen)
	}
}

func TestReadOnly(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{ReadOnly: true})
	for _, c := range [][]byte{rw10(opWrite10, 0, 1), rw16(opWrite16, 0, 1), rw10(opWriteVerify10, 0, 1), {opWrite6, 0, 0, 0, 1, 0}} {
		wantSense(t, run(tg, nexusA, 0, c, make([]byte, 512), 0), KeyDataProtect, ASCWriteProtected)
	}
	wantGood(t, run(tg, nexusA, 0, rw10(opRead10, 0, 1), nil, 512))
}

// TestWriteResiduals follows libiscsi's test_write_residuals: with EDTL
// below the SCSI transfer length only the whole blocks received are
// written, with EDTL above it only the transfer length.
func TestWriteResiduals(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	fill := func(b byte) {
		for i := range m.b[:4*512] {
			m.b[i] = b
		}
	}
	b := bytes.Repeat([]byte{'b'}, 10000)
	tests := []struct {
		name    string
		blocks  uint16
		edtl    int
		written int
		good    bool
	}{
		{"edtl 0", 1, 0, 0, true},
		{"edtl 10000", 1, 10000, 512, true},
		{"edtl 200", 1, 200, 0, false},
		{"two blocks, edtl one", 2, 512, 512, true},
		{"one block, edtl two", 1, 1024, 512, true},
	}
	for _, tc := range tests {
		fill('a')
		c := run(tg, nexusA, 0, rw10(opWrite10, 0, tc.blocks), b[:tc.edtl], 0)
		if tc.good {
			wantGood(t, c)
		} else {
			wantSense(t, c, KeyIllegalRequest, ASCInvalidFieldInIU)
		}
		if c.Needed != int(tc.blocks)*512 {
			t.Errorf("%s: Needed %d", tc.name, c.Needed)
		}
		if bytes.Count(m.b[:4*512], []byte{'b'}) != tc.written {
			t.Errorf("%s: wrote %d bytes, want %d", tc.name, bytes.Count(m.b[:4*512], []byte{'b'}), tc.written)
		}
	}
}

func TestReadShortBuffer(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	c := run(tg, nexusA, 0, rw10(opRead10, 0, 4), nil, 1000)
	wantGood(t, c)
	if c.InLen != 1000 || c.Needed != 2048 {
		t.Fatalf("InLen %d Needed %d", c.InLen, c.Needed)
	}
}

func TestBackendErrors(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	m.failRW = true
	wantSense(t, run(tg, nexusA, 0, rw10(opRead10, 3, 1), nil, 512), KeyMediumError, ASCUnrecoveredReadError)
	wantSense(t, run(tg, nexusA, 0, rw10(opWrite10, 3, 1), make([]byte, 512), 0), KeyMediumError, ASCWriteError)
}

func TestVerify(t *testing.T) {
	tg, m := newTarget(t, LUConfig{})
	for i := range m.b[:2048] {
		m.b[i] = byte(i)
	}
	good := append([]byte(nil), m.b[:1024]...)
	bad := append([]byte(nil), good...)
	bad[700] ^= 0xFF
	v := func(op byte, bytchk byte, n uint32) []byte {
		var b []byte
		switch op {
		case opVerify10:
			b = rw10(op, 0, uint16(n))
		case opVerify12:
			b = rw12(op, 0, n)
		default:
			b = rw16(op, 0, n)
		}
		b[1] = bytchk << 1
		return b
	}
	for _, op := range []byte{opVerify10, opVerify12, opVerify16} {
		wantGood(t, run(tg, nexusA, 0, v(op, 0, 2), nil, 0))
		wantGood(t, run(tg, nexusA, 0, v(op, 1, 2), good, 0))
		s := wantSense(t, run(tg, nexusA, 0, v(op, 1, 2), bad, 0), KeyMiscompare, ASCMiscompareDuringVerify)
		if !s.InfoValid || s.Info != 700 {
			t.Errorf("%#x: miscompare info %d valid %v", op, s.Info, s.InfoValid)
		}
		// BYTCHK=0 does not compare.
		wantGood(t, run(tg, nexusA, 0, v(op, 0, 2), bad, 0))
		wantSense(t, run(tg, nexusA, 0, v(op, 2, 2), good, 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
		b := v(op, 0, 1)
		b[1] |= 0x20
		wantSense(t, run(tg, nexusA, 0, b, nil, 0), KeyIllegalRequest, ASCInvalidFieldInCDB)
	}
	wantSense(t, run(tg, nexusA, 0, rw10(opVerify10, testBlocks, 1), nil, 0), KeyIllegalRequest, ASCLBAOutOfRange)
}

func TestSyncCachePreFetch(t *testing.T) {
	tg, m := newTarget(t, LUConfig{WriteBack: true})
	before := m.flushes()
	wantGood(t, run(tg, nexusA, 0, rw10(opSyncCache10, 0, 0), nil, 0))
	wantGood(t, run(tg, nexusA, 0, rw16(opSyncCache16, 10, 5), nil, 0))
	if m.flushes() != before+2 {
		t.Fatalf("flushes %d", m.flushes()-before)
	}
	wantSense(t, run(tg, nexusA, 0, rw10(opSyncCache10, testBlocks+1, 0), nil, 0), KeyIllegalRequest, ASCLBAOutOfRange)
	wantGood(t, run(tg, nexusA, 0, rw10(opPreFetch10, 0, 10), nil, 0))
	wantGood(t, run(tg, nexusA, 0, rw16(opPreFetch16, 0, 0), nil, 0))
	wantSense(t, run(tg, nexusA, 0, rw16(opPreFetch16, testBlocks, 1), nil, 0), KeyIllegalRequest, ASCLBAOutOfRange)
}

func TestReadWriteAllocs(t *testing.T) {
	tg, _ := newTarget(t, LUConfig{})
	rd := &Command{Nexus: nexusA, CDB: rw10(opRead10, 8, 8), DataIn: make([]byte, 4096)}
	wr := &Command{Nexus: nexusA, CDB: rw10(opWrite10, 8, 8), DataOut: make([]byte, 4096)}
	bad := &Command{Nexus: nexusA, CDB: rw10(opRead10, testBlocks, 8), DataIn: make([]byte, 4096)}
	for name, c := range map[string]*Command{"read10": rd, "write10": wr, "read10 out of range": bad} {
		if n := testing.AllocsPerRun(200, func() { tg.Execute(c) }); n != 0 {
			t.Errorf("%s: %v allocs per Execute", name, n)
		}
	}
	wantGood(t, rd)
	wantGood(t, wr)
}

func BenchmarkRead10(b *testing.B) {
	tg, _ := newTarget(b, LUConfig{})
	c := &Command{Nexus: nexusA, CDB: rw10(opRead10, 8, 8), DataIn: make([]byte, 4096)}
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		tg.Execute(c)
	}
}

func BenchmarkWrite10(b *testing.B) {
	tg, _ := newTarget(b, LUConfig{WriteBack: true})
	c := &Command{Nexus: nexusA, CDB: rw10(opWrite10, 8, 8), DataOut: make([]byte, 4096)}
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		tg.Execute(c)
	}
}
