package login

import (
	"encoding/hex"
	"testing"
)

// TestOpenISCSITranscript replays the requests open-iscsi sends with
// AuthMethod=None and default iscsid.conf settings.
func TestOpenISCSITranscript(t *testing.T) {
	tc := testTargetConfig(TargetInfo{})
	tc.Limits.MaxRecvDataSegmentLength = 262144
	tc.Limits.MaxBurstLength = 1 << 20
	tc.Limits.FirstBurstLength = 262144
	tc.Limits.InitialR2T = false
	tn := NewTarget(tc, 0x23d000000001, 0)
	resp, err := tn.Step(Request{CSG: 0, NSG: 1, Transit: true, Text: kvText(
		"InitiatorName", testInit, "InitiatorAlias", "host1", "TargetName", testIQN,
		"SessionType", "Normal", "AuthMethod", "None")})
	if err != nil || !resp.Transit || resp.NSG != 1 {
		t.Fatalf("security: %+v %v", resp, err)
	}
	resp, err = tn.Step(Request{CSG: 1, NSG: 3, Transit: true, Text: kvText(
		"HeaderDigest", "None", "DataDigest", "None", "DefaultTime2Wait", "2", "DefaultTime2Retain", "0",
		"IFMarker", "No", "OFMarker", "No", "ErrorRecoveryLevel", "0", "InitialR2T", "No", "ImmediateData", "Yes",
		"MaxBurstLength", "16776192", "FirstBurstLength", "262144", "MaxOutstandingR2T", "1", "MaxConnections", "1",
		"DataPDUInOrder", "Yes", "DataSequenceInOrder", "Yes", "MaxRecvDataSegmentLength", "262144")})
	if err != nil || !resp.Done {
		t.Fatalf("operational: %+v %v", resp, err)
	}
	m := respMap(t, resp.Text)
	want := map[string]string{"HeaderDigest": "None", "DataDigest": "None", "DefaultTime2Wait": "2",
		"DefaultTime2Retain": "0", "IFMarker": "No", "OFMarker": "No", "ErrorRecoveryLevel": "0", "InitialR2T": "No",
		"ImmediateData": "Yes", "MaxBurstLength": "1048576", "FirstBurstLength": "262144", "MaxOutstandingR2T": "1",
		"MaxConnections": "1", "DataPDUInOrder": "Yes", "DataSequenceInOrder": "Yes", "MaxRecvDataSegmentLength": "262144"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s=%q, want %q", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("response %q", resp.Text)
	}
	p := tn.Params()
	if p.InitiatorAlias != "host1" || p.PeerMaxRecvDataSegmentLength != 262144 || p.MaxBurstLength != 1<<20 || p.InitialR2T {
		t.Errorf("params %+v", p)
	}
}

// TestLibiscsiCHAPTranscript replays libiscsi's CHAP login: CHAP_A is sent
// with T=1, which the target must answer with T=0.
func TestLibiscsiCHAPTranscript(t *testing.T) {
	sec := &CHAPSecret{User: "libiscsi", Secret: "libiscsi#pw"}
	tn := NewTarget(testTargetConfig(TargetInfo{CHAP: sec}), 1, 0)
	resp, err := tn.Step(Request{CSG: 0, NSG: 1, Transit: true, Text: kvText(
		"InitiatorName", testInit, "TargetName", testIQN, "SessionType", "Normal", "HeaderDigest", "None,CRC32C",
		"DataDigest", "None", "AuthMethod", "CHAP,None")})
	if err != nil || resp.Transit {
		t.Fatalf("first: %+v %v", resp, err)
	}
	m := respMap(t, resp.Text)
	if m["AuthMethod"] != "CHAP" || m["HeaderDigest"] != "None" {
		t.Fatalf("first response %q", resp.Text)
	}
	resp, err = tn.Step(Request{CSG: 0, NSG: 1, Transit: true, Text: kvText("CHAP_A", "5")})
	if err != nil || resp.Transit {
		t.Fatalf("CHAP_A: %+v %v", resp, err)
	}
	m = respMap(t, resp.Text)
	c, _ := hex.DecodeString(m["CHAP_C"][2:])
	var id int
	for _, ch := range m["CHAP_I"] {
		id = id*10 + int(ch-'0')
	}
	r := md5Resp(byte(id), sec.Secret, c)
	resp, err = tn.Step(Request{CSG: 0, NSG: 1, Transit: true, Text: kvText("CHAP_N", "libiscsi", "CHAP_R", "0x"+hex.EncodeToString(r))})
	if err != nil || !resp.Transit || resp.NSG != 1 {
		t.Fatalf("CHAP_R: %+v %v", resp, err)
	}
	resp, err = tn.Step(Request{CSG: 1, NSG: 3, Transit: true, Text: kvText("InitialR2T", "Yes", "ImmediateData", "Yes",
		"MaxBurstLength", "262144", "FirstBurstLength", "262144", "MaxRecvDataSegmentLength", "262144",
		"DataPDUInOrder", "Yes", "DataSequenceInOrder", "Yes", "MaxConnections", "1", "ErrorRecoveryLevel", "0")})
	if err != nil || !resp.Done {
		t.Fatalf("operational: %+v %v", resp, err)
	}
	if got := respMap(t, resp.Text)["FirstBurstLength"]; got != "65536" {
		t.Fatalf("FirstBurstLength=%q", got)
	}
}

// TestInitiatorRejectsBadMutualAnswer: a target that answers the mutual
// challenge with the wrong secret fails the login on the initiator side.
func TestInitiatorRejectsBadMutualAnswer(t *testing.T) {
	initSec := &CHAPSecret{User: "alice", Secret: "alice-secret-1"}
	tc := testTargetConfig(TargetInfo{CHAP: initSec, MutualCHAP: &CHAPSecret{User: "target", Secret: "impostor-secret"}})
	_, _, err := runLogin(t, tc, &InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: initSec,
		MutualCHAP: &CHAPSecret{User: "target", Secret: "real-target-secret"}})
	if statusOf(err) != StatusAuthFailed {
		t.Fatalf("err %v", err)
	}
}

func TestInitiatorRejectsDowngrade(t *testing.T) {
	in := NewInitiator(&InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: &CHAPSecret{"u", "s"}})
	in.Start()
	_, _, err := in.Next(Response{CSG: 0, NSG: 1, Transit: true, Text: kvText("AuthMethod", "None")})
	if err == nil {
		t.Fatal("initiator accepted AuthMethod=None with CHAP configured")
	}
	in = NewInitiator(&InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: &CHAPSecret{"u", "s"}})
	in.Start()
	if _, _, err := in.Next(Response{CSG: 0, NSG: 1, Transit: true}); err == nil {
		t.Fatal("initiator let the target skip authentication")
	}
}
