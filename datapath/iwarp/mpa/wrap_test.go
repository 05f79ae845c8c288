package mpa

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// The marker position counters are 32 bits and wrap after 4 GiB of stream, which a busy connection reaches in
// seconds: FPDUPTR must stay right for FPDUs that straddle the wrap, in every phase of the 512-octet grid.
func TestFramerDeframerPositionWrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, crc := range []bool{false, true} {
		for _, back := range []uint32{4, 512, 4096, 65536, 70000 &^ 3} {
			start := -back // back octets before the wrap; 4-aligned, as the FPDU grid always is
			f := NewFramer(true, crc)
			d := NewDeframer(true, crc, 0)
			f.pos, d.pos = start, start
			var stream []byte
			var want [][]byte
			for i := 0; i < 12; i++ {
				n := 1 + rng.IntN(MULPDU(65483, true))
				if i%4 == 0 {
					n = MaxULPDU
				}
				u := make([]byte, n)
				for j := range u {
					u[j] = byte(rng.Uint32())
				}
				want = append(want, u)
				cut := min(n, 14)
				stream = append(stream, flatten(f.AppendFPDU(nil, u[:cut], [][]byte{u[cut:]}))...)
				f.Reset()
			}
			s := &recSink{}
			for p := stream; len(p) > 0; {
				n := min(len(p), 1+rng.IntN(9000))
				if err := d.Feed(p[:n], s); err != nil {
					t.Fatalf("crc=%v start=%#x: %v after %d ulpdus", crc, start, err, len(s.ulpdus))
				}
				p = p[n:]
			}
			if len(s.ulpdus) != len(want) {
				t.Fatalf("crc=%v start=%#x: got %d ulpdus, want %d", crc, start, len(s.ulpdus), len(want))
			}
			for i := range want {
				if !bytes.Equal(s.ulpdus[i], want[i]) {
					t.Fatalf("crc=%v start=%#x: ulpdu %d differs", crc, start, i)
				}
			}
		}
	}
}
