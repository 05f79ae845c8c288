package login

import (
	"errors"
	"testing"
)

const (
	testIQN  = "iqn.2024-01.org.xtgt:disk1"
	testInit = "iqn.1994-05.com.redhat:client"
)

func testTargetConfig(info TargetInfo) *TargetConfig {
	return &TargetConfig{
		Lookup: func(target, initiator string) (TargetInfo, error) {
			switch {
			case target == "iqn.2024-01.org.xtgt:denied":
				return TargetInfo{}, ErrForbidden
			case target != testIQN:
				return TargetInfo{}, ErrTargetNotFound
			}
			return info, nil
		},
		Limits:         DefaultParams(),
		PortalGroupTag: 7,
	}
}

// runLogin drives an initiator against a target until done or failure,
// passing each PDU through the codec so both sides see encoded text.
func runLogin(t *testing.T, tc *TargetConfig, ic *InitiatorConfig) (*TargetNegotiator, *InitiatorNegotiator, error) {
	t.Helper()
	tn := NewTarget(tc, 0x400001370000, 0)
	in := NewInitiator(ic)
	req := in.Start()
	for i := 0; i < 20; i++ {
		if _, err := ParseText(req.Text); err != nil {
			t.Fatalf("initiator sent malformed text %q: %v", req.Text, err)
		}
		resp, terr := tn.Step(req)
		if _, err := ParseText(resp.Text); err != nil {
			t.Fatalf("target sent malformed text %q: %v", resp.Text, err)
		}
		next, done, ierr := in.Next(resp)
		if terr != nil {
			if ierr == nil {
				t.Fatalf("initiator accepted failure response %+v", resp)
			}
			return tn, in, terr
		}
		if ierr != nil {
			return tn, in, ierr
		}
		if done != resp.Done {
			t.Fatalf("initiator done=%v, target done=%v", done, resp.Done)
		}
		if done {
			return tn, in, nil
		}
		req = next
	}
	t.Fatal("login did not finish in 20 round trips")
	return nil, nil, nil
}

func statusOf(err error) uint16 {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0xffff
}

func TestLoginLoop(t *testing.T) {
	initSecret := &CHAPSecret{User: testInit, Secret: "initiator#secret!12"}
	tgtSecret := &CHAPSecret{User: testIQN, Secret: "target$ecret#;=,x"}
	tests := []struct {
		name   string
		info   TargetInfo
		ic     InitiatorConfig
		status uint16 // expected failure status, 0 for success
		user   string
	}{
		{name: "none", ic: InitiatorConfig{InitiatorName: testInit, TargetName: testIQN}},
		{name: "chap", info: TargetInfo{CHAP: initSecret},
			ic: InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: initSecret}, user: testInit},
		{name: "mutual", info: TargetInfo{CHAP: initSecret, MutualCHAP: tgtSecret},
			ic: InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: initSecret, MutualCHAP: tgtSecret}, user: testInit},
		{name: "wrong secret", info: TargetInfo{CHAP: initSecret},
			ic:     InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: &CHAPSecret{User: testInit, Secret: "wrong-secret-123"}},
			status: StatusAuthFailed},
		{name: "wrong user", info: TargetInfo{CHAP: initSecret},
			ic:     InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: &CHAPSecret{User: "mallory", Secret: initSecret.Secret}},
			status: StatusAuthFailed},
		{name: "chap required, initiator offers none", info: TargetInfo{CHAP: initSecret},
			ic: InitiatorConfig{InitiatorName: testInit, TargetName: testIQN}, status: StatusAuthFailed},
		{name: "mutual requested, target not configured", info: TargetInfo{CHAP: initSecret},
			ic:     InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: initSecret, MutualCHAP: tgtSecret},
			status: StatusAuthFailed},
		{name: "mutual required, initiator one-way", info: TargetInfo{CHAP: initSecret, MutualCHAP: tgtSecret, RequireMutual: true},
			ic: InitiatorConfig{InitiatorName: testInit, TargetName: testIQN, CHAP: initSecret}, status: StatusAuthFailed},
		{name: "target not found", ic: InitiatorConfig{InitiatorName: testInit, TargetName: "iqn.2024-01.org.xtgt:nope"},
			status: StatusTargetNotFound},
		{name: "forbidden", ic: InitiatorConfig{InitiatorName: testInit, TargetName: "iqn.2024-01.org.xtgt:denied"},
			status: StatusForbidden},
		{name: "missing target name", ic: InitiatorConfig{InitiatorName: testInit}, status: StatusMissingParameter},
		{name: "missing initiator name", ic: InitiatorConfig{TargetName: testIQN}, status: StatusMissingParameter},
		{name: "discovery", ic: InitiatorConfig{InitiatorName: testInit, SessionType: SessionDiscovery}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := testTargetConfig(tt.info)
			tn, in, err := runLogin(t, tc, &tt.ic)
			if tt.status != 0 {
				if got := statusOf(err); got != tt.status {
					t.Fatalf("status %#04x (%v), want %#04x", got, err, tt.status)
				}
				if !errors.Is(err, ErrLoginFailed) {
					t.Fatalf("error %v does not match ErrLoginFailed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("login failed: %v", err)
			}
			tp, ip := tn.Params(), in.Params()
			if tn.AuthUser() != tt.user {
				t.Errorf("AuthUser %q, want %q", tn.AuthUser(), tt.user)
			}
			if tp.SessionType != ip.SessionType || tp.MaxBurstLength != ip.MaxBurstLength ||
				tp.FirstBurstLength != ip.FirstBurstLength || tp.ImmediateData != ip.ImmediateData ||
				tp.InitialR2T != ip.InitialR2T || tp.HeaderDigest != ip.HeaderDigest ||
				tp.ErrorRecoveryLevel != ip.ErrorRecoveryLevel {
				t.Errorf("params disagree:\ntarget    %+v\ninitiator %+v", tp, ip)
			}
			if tp.PeerMaxRecvDataSegmentLength != ip.MaxRecvDataSegmentLength ||
				ip.PeerMaxRecvDataSegmentLength != tp.MaxRecvDataSegmentLength {
				t.Errorf("MaxRecvDataSegmentLength declarations not exchanged: target %+v initiator %+v", tp, ip)
			}
			if tt.ic.SessionType != SessionDiscovery && ip.TargetPortalGroupTag != 7 {
				t.Errorf("initiator saw TPGT %d, want 7", ip.TargetPortalGroupTag)
			}
			if tp.InitiatorName != testInit {
				t.Errorf("InitiatorName %q", tp.InitiatorName)
			}
		})
	}
}
