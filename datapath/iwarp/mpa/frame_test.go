package mpa

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestFrameGolden(t *testing.T) {
	tests := []struct {
		name string
		f    FrameFields
		hex  string
	}{
		{"req v1 M C pd", FrameFields{Markers: true, CRC: true, Rev: 1, PrivateData: []byte("hi")},
			"4d504120494420526571204672616d65" + "c001" + "0002" + "6869"},
		{"rep v1 reject", FrameFields{Reply: true, Reject: true, Rev: 1, PrivateData: []byte{0xaa}},
			"4d504120494420526570204672616d65" + "2001" + "0001" + "aa"},
		{"req v2 p2p write+read rtr", FrameFields{CRC: true, Rev: 2,
			Enh: Enhanced{IRD: 16, ORD: 8, P2P: true, RTR: RTRZeroWrite | RTRZeroRead}},
			"4d504120494420526571204672616d65" + "5002" + "0004" + "8010" + "c008"},
		{"rep v2 send rtr", FrameFields{Reply: true, Rev: 2,
			Enh: Enhanced{IRD: 0x3fff, ORD: 1, P2P: true, RTR: RTRZeroSend}, PrivateData: []byte{1}},
			"4d504120494420526570204672616d65" + "1002" + "0005" + "ffff" + "0001" + "01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendFrame(nil, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(b); got != tt.hex {
				t.Fatalf("got  %s\nwant %s", got, tt.hex)
			}
			fr, err := ParseFrame(b, tt.f.Reply)
			if err != nil {
				t.Fatal(err)
			}
			if fr.Markers() != tt.f.Markers || fr.CRC() != tt.f.CRC || fr.Reject() != tt.f.Reject ||
				fr.Rev() != tt.f.Rev || !bytes.Equal(fr.PrivateData(), tt.f.PrivateData) {
				t.Fatalf("decoded mismatch")
			}
			if e, ok := fr.Enh(); ok != (tt.f.Rev == 2) || (ok && e != tt.f.Enh) {
				t.Fatalf("enh = %+v %v, want %+v", e, ok, tt.f.Enh)
			}
		})
	}
}

func TestFrameErrors(t *testing.T) {
	good, _ := AppendFrame(nil, FrameFields{Rev: 1})
	badKey := bytes.Clone(good)
	badKey[0] = 'X'
	badRev := bytes.Clone(good)
	badRev[17] = 3
	longPD := bytes.Clone(good)
	longPD[18], longPD[19] = 0x02, 0x01
	v2Short := bytes.Clone(good)
	v2Short[17] = 2
	rejReq := bytes.Clone(good)
	rejReq[16] = flagReject
	tests := []struct {
		name  string
		b     []byte
		reply bool
		want  error
	}{
		{"short", good[:10], false, ErrShortFrame},
		{"key", badKey, false, ErrBadKey},
		{"wrong direction", good, true, ErrBadKey},
		{"rev", badRev, false, ErrBadRevision},
		{"pd too long", longPD, false, ErrPrivateData},
		{"v2 no ird/ord", v2Short, false, ErrEnhancedData},
		{"reject in request", rejReq, false, ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseFrame(tt.b, tt.reply); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := AppendFrame(nil, FrameFields{Rev: 2, PrivateData: make([]byte, 509)}); !errors.Is(err, ErrPrivateData) {
		t.Fatalf("pd 509+4: %v", err)
	}
}

func FuzzFrame(f *testing.F) {
	for _, ff := range []FrameFields{{Rev: 1}, {Reply: true, Rev: 2, Markers: true, PrivateData: []byte("x")}} {
		b, _ := AppendFrame(nil, ff)
		f.Add(b, ff.Reply)
	}
	f.Add([]byte("MPA ID Req Frame\x00\x02\x00\x01"), false)
	f.Fuzz(func(t *testing.T, b []byte, reply bool) {
		fr, err := ParseFrame(b, reply)
		if err != nil {
			return
		}
		_ = fr.PrivateData()
		e, _ := fr.Enh()
		re, err := AppendFrame(nil, FrameFields{Reply: fr.IsReply(), Markers: fr.Markers(), CRC: fr.CRC(),
			Reject: fr.Reject(), Rev: fr.Rev(), Enh: e, PrivateData: fr.PrivateData()})
		if err != nil {
			t.Fatal(err)
		}
		if len(re) != len(fr) {
			t.Fatalf("re-encoded length %d != %d", len(re), len(fr))
		}
	})
}
