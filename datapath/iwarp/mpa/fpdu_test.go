package mpa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

type recSink struct {
	ulpdus [][]byte
	cur    []byte
	want   int
}

func (s *recSink) BeginFPDU(n int) error { s.cur, s.want = s.cur[:0], n; return nil }
func (s *recSink) ULPDU(p []byte) error  { s.cur = append(s.cur, p...); return nil }
func (s *recSink) EndFPDU() error {
	if len(s.cur) != s.want {
		return errors.New("length mismatch")
	}
	s.ulpdus = append(s.ulpdus, bytes.Clone(s.cur))
	return nil
}

func flatten(iov [][]byte) []byte {
	var b []byte
	for _, p := range iov {
		b = append(b, p...)
	}
	return b
}

// A Send-sized FPDU without markers: length, ULPDU, pad, CRC over all of it, little-endian.
func TestFPDUNoMarkersGolden(t *testing.T) {
	f := NewFramer(false, true)
	ulpdu := []byte{0x41, 0x43, 1, 2, 3} // 5 octets: pad to 8 with the 2-octet length → 1 pad octet
	b := flatten(f.AppendFPDU(nil, ulpdu[:2], [][]byte{ulpdu[2:]}))
	want := []byte{0x00, 0x05, 0x41, 0x43, 1, 2, 3, 0x00}
	want = AppendCRC(want, CRC32C(want))
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x\nwant % x", b, want)
	}
	if FPDULen(5) != len(want) {
		t.Fatalf("FPDULen(5) = %d", FPDULen(5))
	}
	// CRC off: the field is present and zero.
	f = NewFramer(false, false)
	b = flatten(f.AppendFPDU(nil, ulpdu, nil))
	if !bytes.Equal(b[len(b)-4:], []byte{0, 0, 0, 0}) || len(b) != 12 {
		t.Fatalf("no-crc fpdu % x", b)
	}
}

// Markers sit every 512 octets from the first FPDU octet; FPDUPTR is 0 at the FPDU start and then the
// distance back to the ULPDU_Length field; the CRC covers them (RFC 5044 §4.3).
func TestFPDUMarkersLayout(t *testing.T) {
	f := NewFramer(true, true)
	payload := make([]byte, 766) // ULPDU 768 → FPDU 2+768+2 pad+4 = 776 octets + 2 markers
	for i := range payload {
		payload[i] = byte(i)
	}
	b := flatten(f.AppendFPDU(nil, []byte{0xaa, 0xbb}, [][]byte{payload}))
	if len(b) != 776+8 {
		t.Fatalf("len %d", len(b))
	}
	if got := binary.BigEndian.Uint32(b[0:4]); got != 0 {
		t.Fatalf("first marker %#x", got)
	}
	if got := binary.BigEndian.Uint32(b[512:516]); got != 508 {
		t.Fatalf("second marker %#x, want 508", got)
	}
	if binary.BigEndian.Uint16(b[4:6]) != 768 {
		t.Fatalf("ulpdu_length %d", binary.BigEndian.Uint16(b[4:6]))
	}
	crc := CRC32C(b[:len(b)-4])
	if got := binary.LittleEndian.Uint32(b[len(b)-4:]); got != crc {
		t.Fatalf("crc %#x, want %#x", got, crc)
	}
	// Strip markers by hand and compare the ULPDU.
	var plain []byte
	plain = append(plain, b[4:512]...)
	plain = append(plain, b[516:]...)
	if !bytes.Equal(plain[2:4], []byte{0xaa, 0xbb}) || !bytes.Equal(plain[4:4+766], payload) {
		t.Fatal("payload mismatch after stripping markers")
	}
	// A second FPDU continues the marker phase: next marker at stream offset 1024.
	b2 := flatten(f.AppendFPDU(nil, make([]byte, 300), nil))
	off := 1024 - len(b)
	if got := binary.BigEndian.Uint32(b2[off : off+4]); got != uint32(off) {
		t.Fatalf("marker in 2nd FPDU = %d, want %d", got, off)
	}
}

func TestFramerDeframerRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, markers := range []bool{false, true} {
		for _, crc := range []bool{false, true} {
			f := NewFramer(markers, crc)
			var stream []byte
			var want [][]byte
			for i := 0; i < 200; i++ {
				n := 1 + rng.IntN(3000)
				if i%17 == 0 {
					n = MaxULPDU
				}
				u := make([]byte, n)
				for j := range u {
					u[j] = byte(rng.Uint32())
				}
				want = append(want, u)
				cut := rng.IntN(n + 1)
				stream = append(stream, flatten(f.AppendFPDU(nil, u[:min(cut, 46)], [][]byte{u[min(cut, 46):]}))...)
				f.Reset()
			}
			d := NewDeframer(markers, crc, 0)
			s := &recSink{}
			for p := stream; len(p) > 0; {
				n := min(len(p), 1+rng.IntN(2000))
				if err := d.Feed(p[:n], s); err != nil {
					t.Fatalf("markers=%v crc=%v: %v", markers, crc, err)
				}
				p = p[n:]
			}
			if len(s.ulpdus) != len(want) {
				t.Fatalf("got %d ulpdus, want %d", len(s.ulpdus), len(want))
			}
			for i := range want {
				if !bytes.Equal(s.ulpdus[i], want[i]) {
					t.Fatalf("ulpdu %d differs", i)
				}
			}
		}
	}
}

func TestDeframerErrors(t *testing.T) {
	mk := func(markers, crc bool, n int) []byte {
		f := NewFramer(markers, crc)
		return flatten(f.AppendFPDU(nil, make([]byte, n), nil))
	}
	badCRC := mk(false, true, 100)
	badCRC[len(badCRC)-1] ^= 1
	beCRC := mk(false, true, 100) // CRC big-endian is an error too
	c := binary.LittleEndian.Uint32(beCRC[len(beCRC)-4:])
	binary.BigEndian.PutUint32(beCRC[len(beCRC)-4:], c)
	corrupt := mk(false, true, 100)
	corrupt[10] ^= 0x80
	badMarker := mk(true, false, 1000)
	badMarker[515] ^= 4
	zeroLen := []byte{0, 0}
	tests := []struct {
		name         string
		markers, crc bool
		max          int
		b            []byte
		want         error
	}{
		{"crc flipped", false, true, 0, badCRC, ErrCRC},
		{"crc big-endian", false, true, 0, beCRC, ErrCRC},
		{"payload corrupt", false, true, 0, corrupt, ErrCRC},
		{"marker pointer", true, false, 0, badMarker, ErrMarker},
		{"zero ulpdu", false, false, 0, zeroLen, ErrULPDULength},
		{"over max", false, false, 50, mk(false, false, 100), ErrULPDULength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDeframer(tt.markers, tt.crc, tt.max)
			if err := d.Feed(tt.b, &recSink{}); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// With CRC off a bad CRC field is ignored.
	d := NewDeframer(false, false, 0)
	if err := d.Feed(badCRC, &recSink{}); err != nil {
		t.Fatal(err)
	}
}

func TestMULPDU(t *testing.T) {
	for _, emss := range []int{536, 1460, 8948, 65483} {
		for _, markers := range []bool{false, true} {
			m := MULPDU(emss, markers)
			f := NewFramer(markers, true)
			for start := 0; start < 512; start += 4 { // worst marker phase
				f.pos = uint32(start)
				n := len(flatten(f.AppendFPDU(nil, make([]byte, m), nil)))
				if n > emss {
					t.Fatalf("emss %d markers %v phase %d: FPDU %d > emss", emss, markers, start, n)
				}
				f.Reset()
			}
			if m%4 != 0 || m > MaxULPDU {
				t.Fatalf("MULPDU %d", m)
			}
		}
	}
}

type nopSink struct{}

func (nopSink) BeginFPDU(int) error { return nil }
func (nopSink) ULPDU([]byte) error  { return nil }
func (nopSink) EndFPDU() error      { return nil }

func TestFramerDeframerNoAllocs(t *testing.T) {
	f := NewFramer(true, true)
	d := NewDeframer(true, true, 0)
	payload := [][]byte{make([]byte, 60000)}
	hdr := make([]byte, 14)
	iov := make([][]byte, 0, 256)
	wire := make([]byte, 0, 70000)
	allocs := testing.AllocsPerRun(50, func() {
		iov = f.AppendFPDU(iov[:0], hdr, payload)
		wire = wire[:0]
		for _, p := range iov {
			wire = append(wire, p...)
		}
		f.Reset()
		if err := d.Feed(wire, nopSink{}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs per FPDU = %v", allocs)
	}
}

// FuzzDeframer feeds arbitrary bytes in arbitrary pieces with each marker/CRC setting.
func FuzzDeframer(f *testing.F) {
	for _, m := range []bool{false, true} {
		fr := NewFramer(m, true)
		f.Add(flatten(fr.AppendFPDU(nil, []byte{0x41, 0x43}, [][]byte{make([]byte, 700)})), m, true, uint8(7))
	}
	f.Add([]byte{0, 1, 2, 0, 0, 0, 0, 0}, false, false, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, markers, crc bool, chunk uint8) {
		d := NewDeframer(markers, crc, 0)
		s := &recSink{}
		step := int(chunk) + 1
		for len(b) > 0 {
			n := min(step, len(b))
			if err := d.Feed(b[:n], s); err != nil {
				return
			}
			b = b[n:]
		}
	})
}
