package login

import (
	"bytes"
	"testing"
)

// decodeRequests turns fuzz input into a bounded sequence of Login
// Requests: each is a flags byte (CSG bits 0-1, NSG bits 2-3, T bit 4,
// C bit 5, VersionMin bit 6), a length byte and that much text.
func decodeRequests(b []byte) []Request {
	var reqs []Request
	for len(b) >= 2 && len(reqs) < 16 {
		f, l := b[0], int(b[1])
		b = b[2:]
		l = min(l, len(b))
		r := Request{CSG: Stage(f & 3), NSG: Stage(f >> 2 & 3), Transit: f&16 != 0, Continue: f&32 != 0, Text: b[:l]}
		if f&64 != 0 {
			r.VersionMin = 1
		}
		b = b[l:]
		reqs = append(reqs, r)
	}
	return reqs
}

func encodeRequest(r Request) []byte {
	f := byte(r.CSG) | byte(r.NSG)<<2
	if r.Transit {
		f |= 16
	}
	if r.Continue {
		f |= 32
	}
	return append([]byte{f, byte(len(r.Text))}, r.Text...)
}

func FuzzTargetStep(f *testing.F) {
	first := kvText("InitiatorName", testInit, "TargetName", testIQN, "AuthMethod", "CHAP,None")
	op := kvText("HeaderDigest", "CRC32C,None", "MaxBurstLength", "0x100", "FirstBurstLength", "999999999", "X-a", "b",
		"IFMarker", "No", "RDMAExtensions", "Yes", "MaxRecvDataSegmentLength", "65536", "TargetAlias", "x")
	var seed []byte
	seed = append(seed, encodeRequest(Request{CSG: 0, NSG: 1, Transit: true, Text: first})...)
	seed = append(seed, encodeRequest(Request{CSG: 1, NSG: 3, Transit: true, Text: op})...)
	f.Add(seed, false)
	f.Add(seed, true)
	f.Add(encodeRequest(Request{CSG: 0, Continue: true, Text: first[:7]}), true)
	f.Add(append(encodeRequest(Request{CSG: 0, Text: first}), encodeRequest(Request{CSG: 0, Text: kvText("CHAP_A", "5")})...), true)
	f.Add(encodeRequest(Request{CSG: 1, NSG: 3, Transit: true, Text: kvText("InitiatorName", "i", "SessionType", "Discovery", "MaxConnections", "2")}), false)
	f.Fuzz(func(t *testing.T, data []byte, chap bool) {
		info := TargetInfo{}
		if chap {
			info = TargetInfo{CHAP: &CHAPSecret{"u", "secret-1"}, MutualCHAP: &CHAPSecret{"t", "secret-2"}}
		}
		tc := testTargetConfig(info)
		tc.Limits.RDMAExtensions = true
		tc.Limits.MaxBurstLength = 65536
		tn := NewTarget(tc, 1, 0)
		for _, r := range decodeRequests(data) {
			resp, err := tn.Step(r)
			if err != nil {
				if resp.Status() == StatusSuccess || len(resp.Text) != 0 {
					t.Fatalf("failure response %+v for %v", resp, err)
				}
				continue
			}
			if resp.StatusClass != 0 {
				t.Fatalf("status without error: %+v", resp)
			}
			if _, perr := ParseText(resp.Text); perr != nil {
				t.Fatalf("response text %q: %v", resp.Text, perr)
			}
			if resp.Transit && (resp.NSG <= resp.CSG || resp.NSG == 2) {
				t.Fatalf("bad transition %+v", resp)
			}
			if resp.Done && tn.SessionType() == SessionNormal {
				p := tn.Params()
				if p.FirstBurstLength > p.MaxBurstLength || p.MaxBurstLength > 65536 || p.MaxConnections != 1 ||
					p.PeerMaxRecvDataSegmentLength < 512 || p.ErrorRecoveryLevel != 0 {
					t.Fatalf("negotiated params out of limits: %+v", p)
				}
				if chap && tn.AuthUser() == "" {
					t.Fatal("login completed without CHAP")
				}
			}
		}
	})
}

func FuzzInitiatorNext(f *testing.F) {
	f.Add([]byte("AuthMethod=None\x00TargetPortalGroupTag=1\x00"), byte(0x14))
	f.Add([]byte("AuthMethod=CHAP\x00"), byte(0))
	f.Add([]byte("CHAP_A=5\x00CHAP_I=1\x00CHAP_C=0x0102\x00"), byte(0))
	f.Add([]byte("MaxBurstLength=512\x00ImmediateData=No\x00Foo=Bar\x00"), byte(0x1d))
	f.Fuzz(func(t *testing.T, text []byte, flags byte) {
		in := NewInitiator(&InitiatorConfig{InitiatorName: testInit, TargetName: testIQN,
			CHAP: &CHAPSecret{"u", "s"}, MutualCHAP: &CHAPSecret{"t", "s2"}})
		in.Start()
		for _, chunk := range bytes.SplitN(text, []byte{0xff}, 8) {
			resp := Response{CSG: Stage(flags & 3), NSG: Stage(flags >> 2 & 3), Transit: flags&16 != 0, Text: chunk}
			req, done, err := in.Next(resp)
			if err != nil || done {
				return
			}
			if _, perr := ParseText(req.Text); perr != nil {
				t.Fatalf("request text %q: %v", req.Text, perr)
			}
			flags = flags>>1 | flags<<7
		}
	})
}
