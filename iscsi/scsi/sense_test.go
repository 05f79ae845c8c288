package scsi

import (
	"bytes"
	"testing"
)

func TestSenseFormats(t *testing.T) {
	tests := []struct {
		name        string
		s           Sense
		fixed, desc []byte
	}{
		{
			name:  "invalid field",
			s:     Sense{Key: KeyIllegalRequest, ASC: ASCInvalidFieldInCDB, SKS: FieldPointer(true, 2, 7)},
			fixed: []byte{0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0xCF, 0, 2},
			desc:  []byte{0x72, 5, 0x24, 0, 0, 0, 0, 8, 2, 6, 0, 0, 0xCF, 0, 2, 0},
		},
		{
			name:  "param list no bit pointer",
			s:     Sense{Key: KeyIllegalRequest, ASC: ASCInvalidFieldInParamList, SKS: FieldPointer(false, 0x1234, -1)},
			fixed: []byte{0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x26, 0, 0, 0x80, 0x12, 0x34},
			desc:  []byte{0x72, 5, 0x26, 0, 0, 0, 0, 8, 2, 6, 0, 0, 0x80, 0x12, 0x34, 0},
		},
		{
			name:  "miscompare info",
			s:     Sense{Key: KeyMiscompare, ASC: ASCMiscompareDuringVerify, Info: 700, InfoValid: true},
			fixed: []byte{0xF0, 0, 0xE, 0, 0, 2, 0xBC, 10, 0, 0, 0, 0, 0x1D, 0, 0, 0, 0, 0},
			desc:  []byte{0x72, 0xE, 0x1D, 0, 0, 0, 0, 12, 0, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 2, 0xBC},
		},
		{
			name:  "unit attention",
			s:     Sense{Key: KeyUnitAttention, ASC: ASCReportedLUNsDataChanged},
			fixed: []byte{0x70, 0, 6, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x3F, 0x0E, 0, 0, 0, 0},
			desc:  []byte{0x72, 6, 0x3F, 0x0E, 0, 0, 0, 0},
		},
	}
	for _, tc := range tests {
		f := tc.s.AppendFixed(nil)
		d := tc.s.AppendDescriptor(nil)
		if !bytes.Equal(f, tc.fixed) {
			t.Errorf("%s fixed:\n got % x\nwant % x", tc.name, f, tc.fixed)
		}
		if !bytes.Equal(d, tc.desc) {
			t.Errorf("%s desc:\n got % x\nwant % x", tc.name, d, tc.desc)
		}
		for _, b := range [][]byte{f, d} {
			got, err := ParseSense(b)
			if err != nil || got != tc.s {
				t.Errorf("%s: parse % x = %+v, %v", tc.name, b, got, err)
			}
		}
	}
	// 64-bit information does not fit fixed format: VALID=0.
	s := Sense{Key: KeyIllegalRequest, ASC: ASCLBAOutOfRange, Info: 1 << 40, InfoValid: true}
	if f := s.AppendFixed(nil); f[0] != 0x70 {
		t.Errorf("large info fixed VALID set: % x", f)
	}
	for _, b := range [][]byte{nil, {0x70}, {0x71, 0, 0, 0, 0, 0, 0, 0}, {0x72, 0, 0, 0, 0, 0, 0, 9}, {0x72, 0, 0, 0, 0, 0, 0, 2, 0, 5}, {0x10, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := ParseSense(b); err == nil {
			t.Errorf("ParseSense(% x) accepted", b)
		}
	}
}
