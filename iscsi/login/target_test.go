package login

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func respMap(t *testing.T, b []byte) map[string]string {
	t.Helper()
	kvs, err := ParseText(b)
	if err != nil {
		t.Fatalf("response text %q: %v", b, err)
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// opTarget returns a target that finished a None security stage and is in
// OperationalNegotiation.
func opTarget(t *testing.T, limits func(*Params), sessionType string) *TargetNegotiator {
	t.Helper()
	tc := testTargetConfig(TargetInfo{})
	if limits != nil {
		limits(&tc.Limits)
	}
	tn := NewTarget(tc, 1, 0)
	text := kvText("InitiatorName", testInit, "SessionType", sessionType, "AuthMethod", "None")
	if sessionType == SessionNormal {
		text = AppendKV(text, "TargetName", testIQN)
	}
	resp, err := tn.Step(Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true, Text: text})
	if err != nil || !resp.Transit || resp.NSG != OperationalNegotiation {
		t.Fatalf("security stage: %+v %v", resp, err)
	}
	return tn
}

func TestTargetKeyNegotiation(t *testing.T) {
	crc := func(p *Params) { p.HeaderDigest, p.DataDigest = true, true }
	tests := []struct {
		name    string
		limits  func(*Params)
		session string
		in      []string
		want    map[string]string // expected answers ("" key absent)
		check   func(t *testing.T, p Params)
	}{
		{name: "MaxBurstLength min", limits: func(p *Params) { p.MaxBurstLength = 131072 },
			in: []string{"MaxBurstLength", "262144"}, want: map[string]string{"MaxBurstLength": "131072"},
			check: func(t *testing.T, p Params) { eq(t, p.MaxBurstLength, 131072) }},
		{name: "MaxBurstLength lower offer", in: []string{"MaxBurstLength", "16384"}, want: map[string]string{"MaxBurstLength": "16384"}},
		{name: "MaxBurstLength hex", in: []string{"MaxBurstLength", "0x4000"}, want: map[string]string{"MaxBurstLength": "16384"}},
		{name: "MaxBurstLength too small", in: []string{"MaxBurstLength", "511"}, want: map[string]string{"MaxBurstLength": "Reject"}},
		{name: "MaxBurstLength too large", in: []string{"MaxBurstLength", "16777216"}, want: map[string]string{"MaxBurstLength": "Reject"}},
		{name: "MaxBurstLength garbage", in: []string{"MaxBurstLength", "lots"}, want: map[string]string{"MaxBurstLength": "Reject"}},
		{name: "FirstBurstLength capped by MaxBurstLength", in: []string{"MaxBurstLength", "8192", "FirstBurstLength", "65536", "ImmediateData", "Yes"},
			want:  map[string]string{"MaxBurstLength": "8192", "FirstBurstLength": "8192"},
			check: func(t *testing.T, p Params) { eq(t, p.FirstBurstLength, 8192) }},
		{name: "FirstBurstLength irrelevant", in: []string{"InitialR2T", "Yes", "ImmediateData", "No", "FirstBurstLength", "65536"},
			want: map[string]string{"InitialR2T": "Yes", "ImmediateData": "No", "FirstBurstLength": "Irrelevant"}},
		{name: "MaxOutstandingR2T min", limits: func(p *Params) { p.MaxOutstandingR2T = 4 }, in: []string{"MaxOutstandingR2T", "16"},
			want: map[string]string{"MaxOutstandingR2T": "4"}},
		{name: "MaxOutstandingR2T zero", in: []string{"MaxOutstandingR2T", "0"}, want: map[string]string{"MaxOutstandingR2T": "Reject"}},
		{name: "MaxConnections to 1", in: []string{"MaxConnections", "8"}, want: map[string]string{"MaxConnections": "1"}},
		{name: "ErrorRecoveryLevel min", in: []string{"ErrorRecoveryLevel", "2"}, want: map[string]string{"ErrorRecoveryLevel": "0"}},
		{name: "ErrorRecoveryLevel range", in: []string{"ErrorRecoveryLevel", "3"}, want: map[string]string{"ErrorRecoveryLevel": "Reject"}},
		{name: "DefaultTime2Wait max", in: []string{"DefaultTime2Wait", "0"}, want: map[string]string{"DefaultTime2Wait": "2"}},
		{name: "DefaultTime2Wait max larger", in: []string{"DefaultTime2Wait", "10"}, want: map[string]string{"DefaultTime2Wait": "10"}},
		{name: "DefaultTime2Wait range", in: []string{"DefaultTime2Wait", "3601"}, want: map[string]string{"DefaultTime2Wait": "Reject"}},
		{name: "DefaultTime2Retain min", in: []string{"DefaultTime2Retain", "0"}, want: map[string]string{"DefaultTime2Retain": "0"}},
		{name: "DefaultTime2Retain min ours", in: []string{"DefaultTime2Retain", "3600"}, want: map[string]string{"DefaultTime2Retain": "20"}},
		{name: "InitialR2T OR", in: []string{"InitialR2T", "No"}, want: map[string]string{"InitialR2T": "Yes"}},
		{name: "InitialR2T OR accepts No", limits: func(p *Params) { p.InitialR2T = false }, in: []string{"InitialR2T", "No"},
			want: map[string]string{"InitialR2T": "No"}, check: func(t *testing.T, p Params) { eq(t, p.InitialR2T, false) }},
		{name: "ImmediateData AND", limits: func(p *Params) { p.ImmediateData = false }, in: []string{"ImmediateData", "Yes"},
			want: map[string]string{"ImmediateData": "No"}},
		{name: "ImmediateData yes", in: []string{"ImmediateData", "Yes"}, want: map[string]string{"ImmediateData": "Yes"}},
		{name: "bool bad value", in: []string{"ImmediateData", "yes"}, want: map[string]string{"ImmediateData": "Reject"}},
		{name: "DataPDUInOrder OR", in: []string{"DataPDUInOrder", "No", "DataSequenceInOrder", "No"},
			want: map[string]string{"DataPDUInOrder": "Yes", "DataSequenceInOrder": "Yes"}},
		{name: "DataPDUInOrder out of order allowed", limits: func(p *Params) { p.DataPDUInOrder = false },
			in: []string{"DataPDUInOrder", "No"}, want: map[string]string{"DataPDUInOrder": "No"}},
		{name: "digests none only", in: []string{"HeaderDigest", "CRC32C,None", "DataDigest", "CRC32C"},
			want: map[string]string{"HeaderDigest": "None", "DataDigest": "Reject"}},
		{name: "digests crc", limits: crc, in: []string{"HeaderDigest", "CRC32C,None", "DataDigest", "None,CRC32C"},
			want:  map[string]string{"HeaderDigest": "CRC32C", "DataDigest": "None"},
			check: func(t *testing.T, p Params) { eq(t, p.HeaderDigest, true); eq(t, p.DataDigest, false) }},
		{name: "digest unknown values skipped", limits: crc, in: []string{"HeaderDigest", "MD5,CRC32C"}, want: map[string]string{"HeaderDigest": "CRC32C"}},
		{name: "MaxRecvDataSegmentLength declarative", in: []string{"MaxRecvDataSegmentLength", "262144"},
			want:  map[string]string{"MaxRecvDataSegmentLength": "8192"}, // our own declaration, not an answer
			check: func(t *testing.T, p Params) { eq(t, p.PeerMaxRecvDataSegmentLength, 262144) }},
		{name: "MaxRecvDataSegmentLength above range clamped", in: []string{"MaxRecvDataSegmentLength", "16777216"},
			want:  map[string]string{"MaxRecvDataSegmentLength": "8192"},
			check: func(t *testing.T, p Params) { eq(t, p.PeerMaxRecvDataSegmentLength, max24) }},
		{name: "unknown key", in: []string{"FooBar", "1"}, want: map[string]string{"FooBar": "NotUnderstood"}},
		{name: "X- key", in: []string{"X-com.example.thing", "1"}, want: map[string]string{"X-com.example.thing": "NotUnderstood"}},
		{name: "X# key", in: []string{"X#NodeArchitecture", "Linux"}, want: map[string]string{"X#NodeArchitecture": "NotUnderstood"}},
		{name: "unknown key with NotUnderstood value ignored", in: []string{"FooBar", "NotUnderstood"}, want: map[string]string{"FooBar": ""}},
		{name: "markers", in: []string{"IFMarker", "No", "OFMarker", "Yes", "IFMarkInt", "2048~8192", "OFMarkInt", "2048"},
			want: map[string]string{"IFMarker": "No", "OFMarker": "No", "IFMarkInt": "Reject", "OFMarkInt": "Reject"}},
		{name: "TaskReporting", in: []string{"TaskReporting", "ResponseFence,RFC3720"}, want: map[string]string{"TaskReporting": "RFC3720"}},
		{name: "TaskReporting unsupported", in: []string{"TaskReporting", "FastAbort"}, want: map[string]string{"TaskReporting": "Reject"}},
		{name: "iSCSIProtocolLevel", in: []string{"iSCSIProtocolLevel", "2"}, want: map[string]string{"iSCSIProtocolLevel": "1"},
			check: func(t *testing.T, p Params) { eq(t, p.ProtocolLevel, uint8(1)) }},
		{name: "iSCSIProtocolLevel lower", in: []string{"iSCSIProtocolLevel", "0"}, want: map[string]string{"iSCSIProtocolLevel": "0"}},
		{name: "SendTargets in login", in: []string{"SendTargets", "All"}, want: map[string]string{"SendTargets": "Irrelevant"}},
		{name: "target-only keys from initiator ignored", in: []string{"TargetAlias", "x", "TargetPortalGroupTag", "9", "TargetAddress", "1.2.3.4"},
			want: map[string]string{"TargetAlias": "", "TargetPortalGroupTag": "", "TargetAddress": ""}},
		{name: "RDMAExtensions unsupported", in: []string{"RDMAExtensions", "Yes", "InitiatorRecvDataSegmentLength", "8192"},
			want: map[string]string{"RDMAExtensions": "No", "InitiatorRecvDataSegmentLength": "Irrelevant"}},
		{name: "RDMAExtensions supported", limits: func(p *Params) { p.RDMAExtensions = true; p.TargetRecvDataSegmentLength = 65536 },
			in:   []string{"RDMAExtensions", "Yes", "InitiatorRecvDataSegmentLength", "32768", "MaxOutstandingUnexpectedPDUs", "0"},
			want: map[string]string{"RDMAExtensions": "Yes", "MaxOutstandingUnexpectedPDUs": "0", "TargetRecvDataSegmentLength": "65536"},
			check: func(t *testing.T, p Params) {
				eq(t, p.RDMAExtensions, true)
				eq(t, p.InitiatorRecvDataSegmentLength, 32768)
				eq(t, p.TargetRecvDataSegmentLength, 65536)
			}},
		{name: "MaxOutstandingUnexpectedPDUs range", limits: func(p *Params) { p.RDMAExtensions = true },
			in: []string{"RDMAExtensions", "Yes", "MaxOutstandingUnexpectedPDUs", "1"}, want: map[string]string{"MaxOutstandingUnexpectedPDUs": "Reject"}},
		{name: "discovery irrelevant", session: SessionDiscovery,
			in:   []string{"MaxBurstLength", "8192", "InitialR2T", "Yes", "MaxConnections", "1", "HeaderDigest", "None", "ErrorRecoveryLevel", "0"},
			want: map[string]string{"MaxBurstLength": "Irrelevant", "InitialR2T": "Irrelevant", "MaxConnections": "Irrelevant", "HeaderDigest": "None", "ErrorRecoveryLevel": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.session
			if st == "" {
				st = SessionNormal
			}
			tn := opTarget(t, tt.limits, st)
			resp, err := tn.Step(Request{CSG: OperationalNegotiation, NSG: FullFeaturePhase, Transit: true, Text: kvText(tt.in...)})
			if err != nil {
				t.Fatalf("step: %v", err)
			}
			got := respMap(t, resp.Text)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s=%q, want %q (response %q)", k, got[k], v, resp.Text)
				}
			}
			if tt.check != nil {
				tt.check(t, tn.Params())
			}
		})
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestTargetDeclaresMRDSLAndTPGT(t *testing.T) {
	tc := testTargetConfig(TargetInfo{Alias: "disk one"})
	tc.Limits.MaxRecvDataSegmentLength = 262144
	tn := NewTarget(tc, 1, 0)
	resp, err := tn.Step(Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true,
		Text: kvText("InitiatorName", testInit, "TargetName", testIQN, "AuthMethod", "None")})
	if err != nil {
		t.Fatal(err)
	}
	m := respMap(t, resp.Text)
	if m["TargetPortalGroupTag"] != "7" || m["TargetAlias"] != "disk one" || m["AuthMethod"] != "None" {
		t.Fatalf("first response %q", resp.Text)
	}
	if _, ok := m["MaxRecvDataSegmentLength"]; ok {
		t.Fatal("operational key in a security stage response")
	}
	resp, err = tn.Step(Request{CSG: OperationalNegotiation, NSG: FullFeaturePhase, Transit: true})
	if err != nil || !resp.Done {
		t.Fatalf("%+v %v", resp, err)
	}
	if respMap(t, resp.Text)["MaxRecvDataSegmentLength"] != "262144" {
		t.Fatalf("no MRDSL declaration in %q", resp.Text)
	}
	if tn.Params().MaxRecvDataSegmentLength != 262144 || tn.Params().PeerMaxRecvDataSegmentLength != 8192 {
		t.Fatalf("params %+v", tn.Params())
	}
}

func TestTargetOffersRestrictiveLimits(t *testing.T) {
	tn := opTarget(t, func(p *Params) { p.MaxBurstLength = 65536; p.FirstBurstLength = 16384; p.ImmediateData = false }, SessionNormal)
	resp, err := tn.Step(Request{CSG: OperationalNegotiation, NSG: FullFeaturePhase, Transit: true, Text: kvText("InitialR2T", "No")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Transit || resp.Done {
		t.Fatal("target transited with offers outstanding")
	}
	m := respMap(t, resp.Text)
	if m["MaxBurstLength"] != "65536" || m["FirstBurstLength"] != "16384" || m["ImmediateData"] != "No" {
		t.Fatalf("offers %q", resp.Text)
	}
	resp, err = tn.Step(Request{CSG: OperationalNegotiation, NSG: FullFeaturePhase, Transit: true,
		Text: kvText("MaxBurstLength", "32768", "FirstBurstLength", "16384", "ImmediateData", "No")})
	if err != nil || !resp.Done {
		t.Fatalf("%+v %v", resp, err)
	}
	if len(respMap(t, resp.Text)) != 0 {
		t.Fatalf("target answered answers: %q", resp.Text)
	}
	p := tn.Params()
	if p.MaxBurstLength != 32768 || p.FirstBurstLength != 16384 || p.ImmediateData {
		t.Fatalf("params %+v", p)
	}
}

func TestTargetInitiatorLoopRestrictiveLimits(t *testing.T) {
	tc := testTargetConfig(TargetInfo{})
	tc.Limits.MaxBurstLength = 65536
	tc.Limits.FirstBurstLength = 8192
	tc.Limits.HeaderDigest = true
	tc.Limits.MaxRecvDataSegmentLength = 131072
	tc.Limits.InitialR2T = false
	want := DefaultParams()
	want.HeaderDigest, want.DataDigest = true, true
	want.InitialR2T = false
	want.MaxRecvDataSegmentLength = 65536
	want.ProtocolLevel = 2
	tn, in, err := runLogin(t, tc, &InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, Want: want})
	if err != nil {
		t.Fatal(err)
	}
	tp, ip := tn.Params(), in.Params()
	for _, p := range []Params{tp, ip} {
		if p.MaxBurstLength != 65536 || p.FirstBurstLength != 8192 || !p.HeaderDigest || p.DataDigest || p.InitialR2T || p.ProtocolLevel != 1 {
			t.Errorf("params %+v", p)
		}
	}
	if tp.PeerMaxRecvDataSegmentLength != 65536 || ip.PeerMaxRecvDataSegmentLength != 131072 {
		t.Errorf("MRDSL target %d/%d initiator %d/%d", tp.MaxRecvDataSegmentLength, tp.PeerMaxRecvDataSegmentLength,
			ip.MaxRecvDataSegmentLength, ip.PeerMaxRecvDataSegmentLength)
	}
}

func TestTargetLoginErrors(t *testing.T) {
	first := kvText("InitiatorName", testInit, "TargetName", testIQN, "AuthMethod", "None")
	sec := func(text []byte) Request {
		return Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true, Text: text}
	}
	tests := []struct {
		name   string
		info   TargetInfo
		reqs   []Request
		status uint16
	}{
		{"version", TargetInfo{}, []Request{{CSG: SecurityNegotiation, VersionMin: 1, Text: first}}, StatusUnsupportedVersion},
		{"bad CSG", TargetInfo{}, []Request{{CSG: FullFeaturePhase, Text: first}}, StatusInvalidDuringLogin},
		{"CSG 2", TargetInfo{}, []Request{{CSG: 2, Text: first}}, StatusInvalidDuringLogin},
		{"bad transition", TargetInfo{}, []Request{{CSG: SecurityNegotiation, NSG: 2, Transit: true, Text: first}}, StatusInvalidDuringLogin},
		{"backwards transition", TargetInfo{}, []Request{sec(first), {CSG: OperationalNegotiation, NSG: SecurityNegotiation, Transit: true}}, StatusInvalidDuringLogin},
		{"T and C", TargetInfo{}, []Request{{CSG: SecurityNegotiation, NSG: 1, Transit: true, Continue: true, Text: first}}, StatusInitiatorError},
		{"wrong stage", TargetInfo{}, []Request{sec(first), {CSG: SecurityNegotiation, Text: nil}}, StatusInvalidDuringLogin},
		{"duplicate in PDU", TargetInfo{}, []Request{sec(append(kvText("MaxBurstLength", "512", "MaxBurstLength", "512"), first...))}, StatusInitiatorError},
		{"duplicate across PDUs", TargetInfo{}, []Request{
			{CSG: SecurityNegotiation, Text: append(kvText("MaxBurstLength", "512"), first...)},
			{CSG: SecurityNegotiation, Text: kvText("MaxBurstLength", "512")}}, StatusInitiatorError},
		{"duplicate unknown key", TargetInfo{}, []Request{{CSG: SecurityNegotiation, Text: append(kvText("X-a", "1"), first...)},
			{CSG: SecurityNegotiation, Text: kvText("X-a", "1")}}, StatusInitiatorError},
		{"InitiatorName changed", TargetInfo{}, []Request{{CSG: SecurityNegotiation, Text: first},
			{CSG: SecurityNegotiation, Text: kvText("InitiatorName", "iqn.other")}}, StatusInitiatorError},
		{"security key in operational stage", TargetInfo{}, []Request{sec(first), {CSG: OperationalNegotiation, Text: kvText("CHAP_A", "5")}}, StatusInitiatorError},
		{"MaxRecvDataSegmentLength below range", TargetInfo{}, []Request{sec(first), {CSG: OperationalNegotiation, Text: kvText("MaxRecvDataSegmentLength", "100")}}, StatusInitiatorError},
		{"malformed text", TargetInfo{}, []Request{sec(append(first, "junk\x00"...))}, StatusInitiatorError},
		{"bad session type", TargetInfo{}, []Request{sec(append(first, "SessionType=Weird\x00"...))}, StatusSessionTypeUnsupp},
		{"skip security with CHAP required", TargetInfo{CHAP: &CHAPSecret{"u", "s"}},
			[]Request{{CSG: OperationalNegotiation, NSG: FullFeaturePhase, Transit: true, Text: kvText("InitiatorName", testInit, "TargetName", testIQN)}}, StatusAuthFailed},
		{"transit without AuthMethod with CHAP required", TargetInfo{CHAP: &CHAPSecret{"u", "s"}},
			[]Request{sec(kvText("InitiatorName", testInit, "TargetName", testIQN))}, StatusAuthFailed},
		{"CHAP_A before AuthMethod", TargetInfo{CHAP: &CHAPSecret{"u", "s"}},
			[]Request{{CSG: SecurityNegotiation, Text: kvText("InitiatorName", testInit, "TargetName", testIQN, "CHAP_A", "5")}}, StatusAuthFailed},
		{"CHAP_A without MD5", TargetInfo{CHAP: &CHAPSecret{"u", "s"}},
			[]Request{{CSG: SecurityNegotiation, Text: kvText("InitiatorName", testInit, "TargetName", testIQN, "AuthMethod", "CHAP")},
				{CSG: SecurityNegotiation, Text: kvText("CHAP_A", "6,7")}}, StatusAuthFailed},
		{"CHAP_R before challenge", TargetInfo{CHAP: &CHAPSecret{"u", "s"}},
			[]Request{{CSG: SecurityNegotiation, Text: kvText("InitiatorName", testInit, "TargetName", testIQN, "AuthMethod", "CHAP")},
				{CSG: SecurityNegotiation, Text: kvText("CHAP_N", "u", "CHAP_R", "0x00")}}, StatusAuthFailed},
		{"discovery disabled", TargetInfo{}, []Request{sec(kvText("InitiatorName", testInit, "SessionType", "Discovery"))}, 0xffff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := testTargetConfig(tt.info)
			want := tt.status
			if want == 0xffff {
				tc.NoDiscovery = true
				want = StatusSessionTypeUnsupp
			}
			tn := NewTarget(tc, 1, 0)
			var err error
			var resp Response
			for _, r := range tt.reqs {
				if resp, err = tn.Step(r); err != nil {
					break
				}
			}
			if got := statusOf(err); got != want {
				t.Fatalf("status %#04x (%v), want %#04x", got, err, want)
			}
			if resp.Status() != want || len(resp.Text) != 0 {
				t.Fatalf("response %+v", resp)
			}
			if _, err := tn.Step(Request{CSG: tn.Stage(), Text: first}); !errors.Is(err, ErrLoginFailed) {
				t.Fatalf("step after failure: %v", err)
			}
		})
	}
}

func TestTargetContinueBit(t *testing.T) {
	tn := NewTarget(testTargetConfig(TargetInfo{}), 1, 0)
	full := kvText("InitiatorName", testInit, "TargetName", testIQN, "AuthMethod", "None")
	// Split in the middle of a key=value pair.
	a, b := full[:10], full[10:]
	resp, err := tn.Step(Request{CSG: SecurityNegotiation, Continue: true, Text: a})
	if err != nil || len(resp.Text) != 0 || resp.Transit {
		t.Fatalf("continued PDU: %+v %v", resp, err)
	}
	resp, err = tn.Step(Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true, Text: b})
	if err != nil || !resp.Transit {
		t.Fatalf("final PDU: %+v %v", resp, err)
	}
	if respMap(t, resp.Text)["AuthMethod"] != "None" || tn.InitiatorName() != testInit {
		t.Fatalf("response %q", resp.Text)
	}
}

func TestTargetSkipSecurity(t *testing.T) {
	tn := NewTarget(testTargetConfig(TargetInfo{}), 1, 0)
	resp, err := tn.Step(Request{CSG: OperationalNegotiation, NSG: FullFeaturePhase, Transit: true,
		Text: kvText("InitiatorName", testInit, "TargetName", testIQN, "MaxRecvDataSegmentLength", "65536")})
	if err != nil || !resp.Done {
		t.Fatalf("%+v %v", resp, err)
	}
	m := respMap(t, resp.Text)
	if m["TargetPortalGroupTag"] != "7" || m["MaxRecvDataSegmentLength"] != "8192" {
		t.Fatalf("response %q", resp.Text)
	}
}

// chapTarget walks a target through AuthMethod=CHAP and CHAP_A and returns
// the challenge id and bytes.
func chapTarget(t *testing.T, info TargetInfo, algs string) (*TargetNegotiator, byte, []byte) {
	t.Helper()
	tn := NewTarget(testTargetConfig(info), 1, 0)
	resp, err := tn.Step(Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true,
		Text: kvText("InitiatorName", testInit, "TargetName", testIQN, "AuthMethod", "CHAP,None")})
	if err != nil || resp.Transit || respMap(t, resp.Text)["AuthMethod"] != "CHAP" {
		t.Fatalf("AuthMethod: %+v %v", resp, err)
	}
	resp, err = tn.Step(Request{CSG: SecurityNegotiation, Text: kvText("CHAP_A", algs)})
	if err != nil || resp.Transit {
		t.Fatalf("CHAP_A: %+v %v", resp, err)
	}
	m := respMap(t, resp.Text)
	if m["CHAP_A"] != "5" || !strings.HasPrefix(m["CHAP_C"], "0x") {
		t.Fatalf("challenge %q", resp.Text)
	}
	id, err := strconv.Atoi(m["CHAP_I"])
	if err != nil || id < 0 || id > 255 {
		t.Fatalf("CHAP_I %q", m["CHAP_I"])
	}
	c, err := hex.DecodeString(m["CHAP_C"][2:])
	if err != nil || len(c) < 16 {
		t.Fatalf("CHAP_C %q", m["CHAP_C"])
	}
	return tn, byte(id), c
}

// md5Resp computes the RFC 1994 response independently of CHAPResponse.
func md5Resp(id byte, secret string, c []byte) []byte {
	b := append([]byte{id}, secret...)
	b = append(b, c...)
	s := md5.Sum(b)
	return s[:]
}

func TestCHAPResponseVector(t *testing.T) {
	// MD5(0x01 || "secret" || 0x00010203) computed over the concatenation.
	got := CHAPResponse(1, "secret", []byte{0, 1, 2, 3})
	want := md5.Sum([]byte("\x01secret\x00\x01\x02\x03"))
	if got != want {
		t.Fatalf("CHAPResponse %x, want %x", got, want)
	}
	// RFC 1321 test vector through the same path: MD5("") with an empty
	// secret and challenge is not valid CHAP, but MD5("a") = 0cc175b9...
	if h := md5Resp('a', "", nil); hex.EncodeToString(h) != "0cc175b9c0f1b6a831c399e269772661" {
		t.Fatalf("md5 vector %x", h)
	}
	if r := CHAPResponse('a', "", nil); hex.EncodeToString(r[:]) != "0cc175b9c0f1b6a831c399e269772661" {
		t.Fatalf("CHAPResponse vector %x", r)
	}
}

func TestTargetCHAP(t *testing.T) {
	initSec := &CHAPSecret{User: "alice", Secret: "p#ss=w,rd;12"}
	tgtSec := &CHAPSecret{User: "target", Secret: "other#secret!"}
	big := bytes.Repeat([]byte{0x5a}, 1024)
	tests := []struct {
		name     string
		algs     string
		user     string
		resp     func(id byte, c []byte) string
		mutualI  string
		mutualC  string
		info     TargetInfo
		status   uint16
		mutualOK []byte // challenge for which CHAP_R is checked
	}{
		{name: "hex", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) }},
		{name: "upper hex", algs: "7,5", user: "alice", resp: func(id byte, c []byte) string {
			return "0X" + strings.ToUpper(hex.EncodeToString(md5Resp(id, initSec.Secret, c)))
		}},
		{name: "base64", algs: "5", user: "alice", resp: func(id byte, c []byte) string {
			return "0b" + base64.StdEncoding.EncodeToString(md5Resp(id, initSec.Secret, c))
		}},
		{name: "wrong secret", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, "nope", c)) },
			status: StatusAuthFailed},
		{name: "wrong id", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id+1, initSec.Secret, c)) },
			status: StatusAuthFailed},
		{name: "unknown user", algs: "5", user: "bob", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) },
			status: StatusAuthFailed},
		{name: "short response", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x00" }, status: StatusAuthFailed},
		{name: "malformed response", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "zz" }, status: StatusAuthFailed},
		{name: "mutual 1024-byte challenge", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) },
			mutualI: "77", mutualC: "0x" + hex.EncodeToString(big), mutualOK: big},
		{name: "mutual base64 challenge", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) },
			mutualI: "77", mutualC: "0b" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")), mutualOK: []byte("0123456789abcdef")},
		{name: "mutual challenge too long", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) },
			mutualI: "77", mutualC: "0x" + hex.EncodeToString(append(big, 1)), status: StatusAuthFailed},
		{name: "mutual bad id", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) },
			mutualI: "256", mutualC: "0x0102", status: StatusAuthFailed},
		{name: "mutual missing CHAP_C", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) },
			mutualI: "1", status: StatusAuthFailed},
		{name: "mutual same secret", algs: "5", user: "alice", resp: func(id byte, c []byte) string { return "0x" + hex.EncodeToString(md5Resp(id, initSec.Secret, c)) },
			mutualI: "1", mutualC: "0x0102", info: TargetInfo{CHAP: initSec, MutualCHAP: &CHAPSecret{User: "t", Secret: initSec.Secret}}, status: StatusAuthFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := tt.info
			if info.CHAP == nil {
				info = TargetInfo{CHAP: initSec, MutualCHAP: tgtSec}
			}
			tn, id, c := chapTarget(t, info, tt.algs)
			text := kvText("CHAP_N", tt.user, "CHAP_R", tt.resp(id, c))
			if tt.mutualI != "" {
				text = AppendKV(text, "CHAP_I", tt.mutualI)
			}
			if tt.mutualC != "" {
				text = AppendKV(text, "CHAP_C", tt.mutualC)
			}
			resp, err := tn.Step(Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true, Text: text})
			if tt.status != 0 {
				if statusOf(err) != tt.status || !errors.Is(err, ErrAuth) {
					t.Fatalf("status %v, want %#04x", err, tt.status)
				}
				return
			}
			if err != nil || !resp.Transit || resp.NSG != OperationalNegotiation {
				t.Fatalf("%+v %v", resp, err)
			}
			m := respMap(t, resp.Text)
			if tt.mutualOK != nil {
				want := "0x" + hex.EncodeToString(md5Resp(77, tgtSec.Secret, tt.mutualOK))
				if m["CHAP_N"] != "target" || m["CHAP_R"] != want {
					t.Fatalf("mutual answer %q, want CHAP_R=%s", resp.Text, want)
				}
			} else if len(m) != 0 {
				t.Fatalf("unexpected response text %q", resp.Text)
			}
			if tn.AuthUser() != "alice" {
				t.Fatalf("AuthUser %q", tn.AuthUser())
			}
		})
	}
}

func TestTargetCHAPReflection(t *testing.T) {
	initSec := &CHAPSecret{User: "alice", Secret: "secret-one-123"}
	tn, id, c := chapTarget(t, TargetInfo{CHAP: initSec, MutualCHAP: &CHAPSecret{"t", "secret-two-456"}}, "5")
	_, err := tn.Step(Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true,
		Text: kvText("CHAP_N", "alice", "CHAP_R", "0x"+hex.EncodeToString(md5Resp(id, initSec.Secret, c)),
			"CHAP_I", "1", "CHAP_C", "0x"+hex.EncodeToString(c))})
	if statusOf(err) != StatusAuthFailed {
		t.Fatalf("reflected challenge accepted: %v", err)
	}
}

func TestTargetCHAPWaitsBeforeTransit(t *testing.T) {
	// A CHAP_A=5 answer must come with T=0 even if the initiator asks to
	// transit: authentication is not complete.
	tn, _, _ := chapTarget(t, TargetInfo{CHAP: &CHAPSecret{"u", "s"}}, "5")
	if tn.Stage() != SecurityNegotiation {
		t.Fatalf("stage %v", tn.Stage())
	}
}
