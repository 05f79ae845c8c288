package mpa

import (
	"bytes"
	"testing"
)

// RFC 3720 Appendix B.4 vectors; the wire form is little-endian.
func TestCRC32CVectors(t *testing.T) {
	inc := make([]byte, 32)
	dec := make([]byte, 32)
	for i := range inc {
		inc[i] = byte(i)
		dec[i] = byte(31 - i)
	}
	tests := []struct {
		name string
		data []byte
		want uint32
		wire []byte
	}{
		{"32x00", make([]byte, 32), 0x8a9136aa, []byte{0xaa, 0x36, 0x91, 0x8a}},
		{"32xff", bytes.Repeat([]byte{0xff}, 32), 0x62a8ab43, []byte{0x43, 0xab, 0xa8, 0x62}},
		{"inc", inc, 0x46dd794e, []byte{0x4e, 0x79, 0xdd, 0x46}},
		{"dec", dec, 0x113fdb5c, []byte{0x5c, 0xdb, 0x3f, 0x11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CRC32C(tt.data); got != tt.want {
				t.Fatalf("CRC32C = %#x, want %#x", got, tt.want)
			}
			if got := AppendCRC(nil, CRC32C(tt.data)); !bytes.Equal(got, tt.wire) {
				t.Fatalf("wire = % x, want % x", got, tt.wire)
			}
			// incremental in odd pieces
			var c uint32
			for i := 0; i < len(tt.data); i += 7 {
				c = UpdateCRC32C(c, tt.data[i:min(i+7, len(tt.data))])
			}
			if c != tt.want {
				t.Fatalf("incremental = %#x", c)
			}
		})
	}
}
