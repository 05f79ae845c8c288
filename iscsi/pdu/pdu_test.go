package pdu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"
)

func TestCRC32CVectors(t *testing.T) {
	inc := make([]byte, 32)
	dec := make([]byte, 32)
	for i := range inc {
		inc[i] = byte(i)
		dec[i] = byte(31 - i)
	}
	read10, _ := hex.DecodeString("01c000000000000000000000000000001400000000000400000000140000001828000000000000000200000000000000")
	tests := []struct {
		name string
		data []byte
		wire string
		val  uint32
	}{
		{"32x00", make([]byte, 32), "aa36918a", 0x8a9136aa},
		{"32xff", bytes.Repeat([]byte{0xff}, 32), "43aba862", 0x62a8ab43},
		{"incrementing", inc, "4e79dd46", 0x46dd794e},
		{"decrementing", dec, "5cdb3f11", 0x113fdb5c},
		{"read10-pdu", read10, "563a96d9", 0xd9963a56},
		{"check-123456789", []byte("123456789"), "839206e3", 0xe3069283},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CRC32C(tc.data)
			if got != tc.val {
				t.Fatalf("CRC32C = %#x, want %#x", got, tc.val)
			}
			var w [4]byte
			PutDigest(w[:], got)
			if hex.EncodeToString(w[:]) != tc.wire {
				t.Fatalf("wire = %x, want %s", w, tc.wire)
			}
			if Digest(w[:]) != tc.val {
				t.Fatal("Digest does not invert PutDigest")
			}
		})
	}
}

func TestBHSFields(t *testing.T) {
	h := make(BHS, BHSLen)
	h.SetOpcode(OpSCSICommand)
	h.SetImmediate(true)
	h.SetFinal(true)
	h.SetRead(true)
	h.SetAttr(1)
	h.SetDataSegmentLength(0x123456)
	h.SetTotalAHSLength(8)
	h.SetLUN([8]byte{0, 5})
	h.SetITT(0xdeadbeef)
	h.SetEDTL(4096)
	h.SetCmdSN(7)
	h.SetExpStatSN(9)
	copy(h.CDB(), []byte{0x28, 0, 0, 0, 0, 1, 0, 0, 8, 0})
	checks := []struct {
		name      string
		got, want any
	}{
		{"opcode", h.Opcode(), OpSCSICommand},
		{"imm", h.Immediate(), true},
		{"final", h.Final(), true},
		{"read", h.Read(), true},
		{"write", h.Write(), false},
		{"attr", h.Attr(), uint8(1)},
		{"dsl", h.DataSegmentLength(), 0x123456},
		{"ahs", h.TotalAHSLength(), 8},
		{"lun", h.LUN(), [8]byte{0, 5}},
		{"itt", h.ITT(), uint32(0xdeadbeef)},
		{"edtl", h.EDTL(), uint32(4096)},
		{"cmdsn", h.CmdSN(), uint32(7)},
		{"expstatsn", h.ExpStatSN(), uint32(9)},
		{"cdb0", h.CDB()[0], byte(0x28)},
		{"byte0", h[0], byte(0x41)},
		{"byte1", h[1], byte(0xc1)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	l := make(BHS, BHSLen)
	l.SetOpcode(OpLoginReq)
	l.SetImmediate(true)
	l.SetFinal(true)
	l.SetStages(1, 3)
	l.SetISID(0x23d000000001)
	l.SetTSIH(0x1234)
	l.SetCID(2)
	if l.CSG() != 1 || l.NSG() != 3 || !l.Final() || l.ISID() != 0x23d000000001 || l.TSIH() != 0x1234 || l.CID() != 2 {
		t.Fatalf("login fields wrong: % x", []byte(l))
	}
	if got := hex.EncodeToString(l[8:16]); got != "23d0000000011234" {
		t.Fatalf("ISID/TSIH bytes = %s", got)
	}
}

func TestAHS(t *testing.T) {
	ext := bytes.Repeat([]byte{0xab}, 17) // reserved byte + 16 extra CDB bytes
	b := AppendAHS(nil, AHSExtendedCDB, ext)
	b = AppendAHS(b, AHSBidiReadLen, []byte{0, 0, 0, 0x10, 0})
	if len(b)%4 != 0 {
		t.Fatalf("AHS not padded: %d", len(b))
	}
	it := NewAHSIter(b)
	var types []uint8
	for it.Next() {
		types = append(types, it.Type())
	}
	if it.Err() != nil || len(types) != 2 || types[0] != 1 || types[1] != 2 {
		t.Fatalf("types %v err %v", types, it.Err())
	}
	for _, bad := range [][]byte{{0, 0, 1, 0}, {0, 9, 1, 0}, {0, 1}} {
		it := NewAHSIter(bad)
		for it.Next() {
		}
		if !errors.Is(it.Err(), ErrBadAHS) {
			t.Errorf("AHS % x: err %v", bad, it.Err())
		}
	}
}

func roundTrip(t *testing.T, hd, dd bool, data []byte, ahs []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.HeaderDigest, w.DataDigest = hd, dd
	var o Out
	o.BHS().SetOpcode(OpDataIn)
	o.BHS().SetITT(42)
	o.Data = data
	o.AHS = ahs
	w.Queue(&o)
	var o2 Out
	o2.BHS().SetOpcode(OpNOPIn)
	w.Queue(&o2)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, 4096)
	r.HeaderDigest, r.DataDigest = hd, dd
	h := make(BHS, BHSLen)
	gotAHS, err := r.ReadHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotAHS, ahs) && len(ahs) > 0 {
		t.Fatalf("ahs mismatch")
	}
	got := make([]byte, h.DataSegmentLength())
	if err := r.ReadData(got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || h.ITT() != 42 {
		t.Fatalf("data mismatch")
	}
	if _, err := r.ReadHeader(h); err != nil || h.Opcode() != OpNOPIn {
		t.Fatalf("second PDU: %v %v", err, h.Opcode())
	}
	if _, err := r.ReadHeader(h); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
}

func TestReaderWriterRoundTrip(t *testing.T) {
	for _, hd := range []bool{false, true} {
		for _, dd := range []bool{false, true} {
			for _, n := range []int{0, 1, 3, 4, 5, 8192, 65537} {
				roundTrip(t, hd, dd, bytes.Repeat([]byte{0x5a}, n), nil)
			}
			roundTrip(t, hd, dd, []byte("abc"), AppendAHS(nil, AHSBidiReadLen, []byte{0, 0, 0, 1, 0}))
		}
	}
}

func TestDigestErrors(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.HeaderDigest, w.DataDigest = true, true
	var o Out
	o.BHS().SetOpcode(OpDataOut)
	o.Data = []byte("hello")
	w.Queue(&o)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	wire := buf.Bytes()
	// Corrupt a data byte: data digest error, stream stays in step.
	bad := append([]byte(nil), wire...)
	bad[BHSLen+DigestLen] ^= 1
	bad = append(bad, wire...)
	r := NewReader(bytes.NewReader(bad), 512)
	r.HeaderDigest, r.DataDigest = true, true
	h := make(BHS, BHSLen)
	if _, err := r.ReadHeader(h); err != nil {
		t.Fatal(err)
	}
	d := make([]byte, 5)
	if err := r.ReadData(d); !errors.Is(err, ErrDataDigest) {
		t.Fatalf("want data digest error, got %v", err)
	}
	if _, err := r.ReadHeader(h); err != nil {
		t.Fatalf("stream lost step: %v", err)
	}
	// Corrupt a header byte.
	bad = append([]byte(nil), wire...)
	bad[20] ^= 1
	r = NewReader(bytes.NewReader(bad), 512)
	r.HeaderDigest = true
	if _, err := r.ReadHeader(h); !errors.Is(err, ErrHeaderDigest) {
		t.Fatalf("want header digest error, got %v", err)
	}
	// Oversized data segment.
	r = NewReader(bytes.NewReader(wire), 512)
	r.HeaderDigest, r.DataDigest = true, true
	r.MaxData = 4
	if _, err := r.ReadHeader(h); !errors.Is(err, ErrDataTooLong) {
		t.Fatalf("want too long, got %v", err)
	}
	if err := r.DiscardData(); err != nil {
		t.Fatal(err)
	}
}

func TestReadWriteAllocs(t *testing.T) {
	var buf bytes.Buffer
	buf.Grow(1 << 20)
	w := NewWriter(&buf)
	w.HeaderDigest, w.DataDigest = true, true
	data := make([]byte, 4096)
	var o Out
	r := NewReader(&buf, 64<<10)
	r.HeaderDigest, r.DataDigest = true, true
	h := make(BHS, BHSLen)
	dst := make([]byte, 4096)
	allocs := testing.AllocsPerRun(200, func() {
		o.BHS().SetOpcode(OpDataIn)
		o.Data = data
		w.Queue(&o)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadHeader(h); err != nil {
			t.Fatal(err)
		}
		if err := r.ReadData(dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per PDU, want 0", allocs)
	}
}

func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var o Out
	o.BHS().SetOpcode(OpSCSICommand)
	o.Data = []byte("payload")
	o.AHS = AppendAHS(nil, AHSExtendedCDB, make([]byte, 9))
	w.Queue(&o)
	_ = w.Flush()
	f.Add(buf.Bytes(), false, false)
	f.Add(make([]byte, 48), true, true)
	f.Add([]byte{0x01, 0x80, 0, 0, 0xff, 0xff, 0xff, 0xff}, false, true)
	f.Fuzz(func(t *testing.T, b []byte, hd, dd bool) {
		r := NewReader(bytes.NewReader(b), 256)
		r.HeaderDigest, r.DataDigest = hd, dd
		r.MaxData = 1 << 16
		h := make(BHS, BHSLen)
		for i := 0; i < 8; i++ {
			ahs, err := r.ReadHeader(h)
			if err != nil && !errors.Is(err, ErrDataTooLong) {
				return
			}
			it := NewAHSIter(ahs)
			for it.Next() {
			}
			if errors.Is(err, ErrDataTooLong) {
				if r.DiscardData() != nil {
					return
				}
				continue
			}
			d := make([]byte, h.DataSegmentLength())
			if err := r.ReadData(d); err != nil && !errors.Is(err, ErrDataDigest) {
				return
			}
		}
	})
}
