package login

import (
	"errors"
	"strings"
	"testing"
)

func kvText(pairs ...string) []byte {
	var b []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		b = AppendKV(b, pairs[i], pairs[i+1])
	}
	return b
}

func TestParseText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []KV
		err  error
	}{
		{"empty", "", nil, nil},
		{"one", "a=b\x00", []KV{{"a", "b"}}, nil},
		{"two and padding", "InitiatorName=iqn.x\x00SessionType=Normal\x00\x00\x00", []KV{{"InitiatorName", "iqn.x"}, {"SessionType", "Normal"}}, nil},
		{"no final nul", "a=b\x00c=d", []KV{{"a", "b"}, {"c", "d"}}, nil},
		{"empty value", "X-foo=\x00", []KV{{"X-foo", ""}}, nil},
		{"value with equals", "a=b=c\x00", []KV{{"a", "b=c"}}, nil},
		{"missing equals", "abc\x00", nil, ErrMissingEquals},
		{"empty key", "=x\x00", nil, ErrEmptyKey},
		{"bad key char", "a b=x\x00", nil, ErrBadKeyChar},
		{"key too long", strings.Repeat("k", 64) + "=v\x00", nil, ErrKeyTooLong},
		{"key 63", strings.Repeat("k", 63) + "=v\x00", []KV{{strings.Repeat("k", 63), "v"}}, nil},
		{"value too long", "a=" + strings.Repeat("v", 256) + "\x00", nil, ErrValueTooLong},
		{"value 255", "a=" + strings.Repeat("v", 255) + "\x00", []KV{{"a", strings.Repeat("v", 255)}}, nil},
		{"large CHAP value", "CHAP_C=0x" + strings.Repeat("ab", 1024) + "\x00", []KV{{"CHAP_C", "0x" + strings.Repeat("ab", 1024)}}, nil},
		{"CHAP value too long", "CHAP_C=" + strings.Repeat("a", 8193) + "\x00", nil, ErrValueTooLong},
		{"bad utf8", "a=\xff\xfe\x00", nil, ErrInvalidUTF8},
		{"duplicate", "a=1\x00b=2\x00a=1\x00", nil, ErrDuplicateKey},
		{"extension keys", "X-com.example.foo=1\x00X#bar=2\x00", []KV{{"X-com.example.foo", "1"}, {"X#bar", "2"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseText([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestAppendKVRoundTrip(t *testing.T) {
	b := AppendKV(nil, "HeaderDigest", "CRC32C,None")
	b = AppendKV(b, "MaxBurstLength", "262144")
	if string(b) != "HeaderDigest=CRC32C,None\x00MaxBurstLength=262144\x00" {
		t.Fatalf("encoded %q", b)
	}
	kvs, err := ParseText(b)
	if err != nil || len(kvs) != 2 || kvs[1].Value != "262144" {
		t.Fatalf("round trip %q %v", kvs, err)
	}
}

func TestTextIterNoAlloc(t *testing.T) {
	b := kvText("InitiatorName", "iqn.1994-05.com.redhat:x", "SessionType", "Normal", "TargetName", testIQN,
		"AuthMethod", "CHAP,None", "HeaderDigest", "None")
	var n int
	allocs := testing.AllocsPerRun(100, func() {
		for it := NewTextIter(b); it.Next(); {
			n += len(it.Key()) + len(it.Value())
			_ = lookupKey(it.Key())
		}
	})
	if allocs != 0 {
		t.Fatalf("TextIter allocates %v per run", allocs)
	}
	if n == 0 {
		t.Fatal("iterated nothing")
	}
}

func TestDecodeBinary(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"0x0102ff", "\x01\x02\xff", true},
		{"0X0A", "\x0a", true},
		{"0xabc", "\x0a\xbc", true}, // odd digit count: leading zero
		{"0bAQL/", "\x01\x02\xff", true},
		{"0BAQL/", "\x01\x02\xff", true},
		{"0x", "", false},
		{"0xzz", "", false},
		{"0b!!!!", "", false},
		{"1234", "", false},
		{"0x" + strings.Repeat("00", 1025), "", false},
		{"0x" + strings.Repeat("11", 1024), strings.Repeat("\x11", 1024), true},
	}
	for _, tt := range tests {
		got, err := DecodeBinary([]byte(tt.in))
		if (err == nil) != tt.ok || string(got) != tt.want {
			t.Errorf("DecodeBinary(%.20q) = %x, %v; want %x ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"262144", 262144, true}, {"0x40000", 0x40000, true}, {"0XFF", 255, true},
		{"", 0, false}, {"-1", 0, false}, {"12a", 0, false}, {"0x", 0, false},
		{"18446744073709551615", 1<<64 - 1, true}, {"18446744073709551616", 0, false},
		{"0x10000000000000000", 0, false},
	}
	for _, tt := range tests {
		got, err := parseNumber([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseNumber(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func FuzzParseText(f *testing.F) {
	f.Add([]byte("InitiatorName=iqn.x\x00SessionType=Normal\x00"))
	f.Add([]byte("a=b\x00a=b\x00"))
	f.Add([]byte("noequals"))
	f.Add([]byte("\x00\x00=\x00"))
	f.Add([]byte("CHAP_C=0xff\x00CHAP_R=0b////\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := ParseText(b)
		var it TextIter
		count := 0
		for it = NewTextIter(b); it.Next(); {
			count++
		}
		if err == nil {
			if it.Err() != nil || count != len(kvs) {
				t.Fatalf("ParseText ok with %d pairs, iterator %d/%v", len(kvs), count, it.Err())
			}
			// Re-encoding must parse back to the same pairs.
			var enc []byte
			for _, kv := range kvs {
				enc = AppendKV(enc, kv.Key, kv.Value)
			}
			again, err := ParseText(enc)
			if err != nil || len(again) != len(kvs) {
				t.Fatalf("re-encoded text does not parse: %v", err)
			}
			for i := range kvs {
				if again[i] != kvs[i] {
					t.Fatalf("round trip changed %q to %q", kvs[i], again[i])
				}
			}
		}
		_, _ = DecodeBinary(b)
		_, _ = parseNumber(b)
	})
}
