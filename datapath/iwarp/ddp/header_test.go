package ddp

import (
	"encoding/hex"
	"errors"
	"testing"
)

// Layouts of RFC 5041 §4.2 (tagged) and §4.3 (untagged) with RDMAP's control octet (RV=1, opcode).
func TestHeaderGolden(t *testing.T) {
	tagged := AppendTagged(nil, true, 0x40, 0x01020304, 0x1122334455667788)
	if got := hex.EncodeToString(tagged); got != "c140"+"01020304"+"1122334455667788" {
		t.Fatalf("tagged %s", got)
	}
	untagged := AppendUntagged(nil, false, 0x43, 0xdeadbeef, 1, 7, 0x10000)
	if got := hex.EncodeToString(untagged); got != "0143"+"deadbeef"+"00000001"+"00000007"+"00010000" {
		t.Fatalf("untagged %s", got)
	}
	tests := []struct {
		name string
		seg  []byte
		chk  func(Header) bool
	}{
		{"tagged", append(tagged, 9, 9), func(h Header) bool {
			return h.Tagged() && h.Last() && h.STag() == 0x01020304 && h.TO() == 0x1122334455667788 && h.ULPCtrl() == 0x40
		}},
		{"untagged", untagged, func(h Header) bool {
			return !h.Tagged() && !h.Last() && h.ULP32() == 0xdeadbeef && h.QN() == 1 && h.MSN() == 7 && h.MO() == 0x10000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, p, err := Parse(tt.seg)
			if err != nil || !tt.chk(h) || len(h)+len(p) != len(tt.seg) {
				t.Fatalf("parse: %v %x", err, h)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short tagged", []byte{0xc1, 0x40, 0, 0}, ErrShort},
		{"short untagged", make([]byte, 17), ErrShort},
		{"version 0", AppendUntagged(nil, true, 0x43, 0, 0, 1, 0)[:1:1], ErrShort},
		{"bad version", func() []byte { b := AppendTagged(nil, true, 0x40, 1, 0); b[0] = 0xc2; return b }(), ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := Parse(tt.b); !errors.Is(err, tt.want) {
				t.Fatalf("err %v want %v", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(AppendTagged(nil, true, 0x40, 1, 2))
	f.Add(AppendUntagged(nil, true, 0x43, 0, 0, 1, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, p, err := Parse(b)
		if err != nil && !errors.Is(err, ErrVersion) {
			return
		}
		if len(h)+len(p) != len(b) {
			t.Fatal("lengths")
		}
		if h.Tagged() {
			re := AppendTagged(nil, h.Last(), h.ULPCtrl(), h.STag(), h.TO())
			if string(re[1:]) != string(h[1:]) {
				t.Fatal("tagged re-encode")
			}
		} else {
			re := AppendUntagged(nil, h.Last(), h.ULPCtrl(), h.ULP32(), h.QN(), h.MSN(), h.MO())
			if string(re[1:]) != string(h[1:]) {
				t.Fatal("untagged re-encode")
			}
		}
	})
}
