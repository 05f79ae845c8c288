package login

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
)

// InitiatorConfig configures the initiator side of a login.
type InitiatorConfig struct {
	InitiatorName, InitiatorAlias string
	TargetName                    string // required for Normal sessions
	SessionType                   string // "Normal" (default) or "Discovery"
	// CHAP, when set, offers only AuthMethod=CHAP and answers the target's
	// challenge with these credentials.
	CHAP *CHAPSecret
	// MutualCHAP, when set, asks the target to authenticate too: the target
	// must answer with this name and secret.
	MutualCHAP *CHAPSecret
	// Want holds the proposals: digests (true offers "CRC32C,None"),
	// burst lengths, our MaxRecvDataSegmentLength etc. Start from
	// DefaultParams; zero numerical fields take the RFC default.
	Want Params
	// Rand is the source of the mutual CHAP challenge (crypto/rand when nil).
	Rand io.Reader
}

// InitiatorNegotiator runs the initiator side of one connection's login.
type InitiatorNegotiator struct {
	cfg   *InitiatorConfig
	want  Params
	p     Params
	stage Stage
	done  bool
	auth  authState
	// proposed marks keys we offered and await an answer for.
	proposed       [numKeys]bool
	proposedOp     bool
	answered       [numKeys]bool // target-originated offers we answered
	chapChallenge  []byte
	chapID         byte
	mutualVerified bool
	out            []byte
	pendingReplies []byte
}

// NewInitiator returns an initiator negotiator. cfg must stay unchanged
// while in use.
func NewInitiator(cfg *InitiatorConfig) *InitiatorNegotiator {
	n := &InitiatorNegotiator{cfg: cfg, p: DefaultParams()}
	w := normalizeLimits(cfg.Want)
	if cfg.Want.ProtocolLevel == 0 {
		w.ProtocolLevel = 0 // only propose iSCSIProtocolLevel when asked
	}
	n.want = w
	n.p.SessionType = SessionNormal
	if cfg.SessionType == SessionDiscovery {
		n.p.SessionType = SessionDiscovery
	}
	n.p.InitiatorName, n.p.InitiatorAlias = cfg.InitiatorName, cfg.InitiatorAlias
	n.p.TargetName = cfg.TargetName
	n.p.MaxRecvDataSegmentLength = w.MaxRecvDataSegmentLength
	return n
}

// Params returns the negotiated parameters (final once Next reports done).
func (n *InitiatorNegotiator) Params() Params { return n.p }

func (n *InitiatorNegotiator) rand() io.Reader {
	if n.cfg.Rand != nil {
		return n.cfg.Rand
	}
	return rand.Reader
}

// Start returns the first Login Request: identity keys and AuthMethod in
// SecurityNegotiation, asking to move on to OperationalNegotiation.
func (n *InitiatorNegotiator) Start() Request {
	n.out = n.out[:0]
	if n.cfg.InitiatorName != "" {
		n.out = AppendKV(n.out, "InitiatorName", n.cfg.InitiatorName)
	}
	if n.cfg.InitiatorAlias != "" {
		n.out = AppendKV(n.out, "InitiatorAlias", n.cfg.InitiatorAlias)
	}
	n.out = AppendKV(n.out, "SessionType", n.p.SessionType)
	if n.cfg.TargetName != "" {
		n.out = AppendKV(n.out, "TargetName", n.cfg.TargetName)
	}
	if n.cfg.CHAP != nil {
		n.out = AppendKV(n.out, "AuthMethod", "CHAP")
	} else {
		n.out = AppendKV(n.out, "AuthMethod", valNone)
	}
	n.proposed[kAuthMethod] = true
	n.stage = SecurityNegotiation
	return Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true, Text: n.out}
}

func (n *InitiatorNegotiator) errorf(format string, a ...any) error {
	return fmt.Errorf("login: "+format, a...)
}

// Next consumes a Login Response and returns the next Login Request, or
// done once the target moved the connection to full feature phase. A
// failure status, a protocol violation or a failed mutual authentication
// returns an error (matching ErrLoginFailed for a failure status).
func (n *InitiatorNegotiator) Next(resp Response) (Request, bool, error) {
	if n.done {
		return Request{}, true, ErrLoginComplete
	}
	if st := resp.Status(); st != StatusSuccess {
		return Request{}, false, &StatusError{Status: st, Reason: "target rejected login"}
	}
	if resp.CSG != n.stage {
		return Request{}, false, n.errorf("response CSG %v, expected %v", resp.CSG, n.stage)
	}
	if resp.Continue {
		// Responses from this package never continue; collect and wait.
		n.pendingReplies = append(n.pendingReplies, resp.Text...)
		return Request{CSG: n.stage, Text: nil}, false, nil
	}
	text := resp.Text
	if len(n.pendingReplies) > 0 {
		text = append(n.pendingReplies, resp.Text...)
		n.pendingReplies = n.pendingReplies[:0]
	}
	n.out = n.out[:0]
	var chapA, chapI, chapC, chapN, chapR []byte
	var here [numKeys]bool
	var unknown map[string]bool
	it := NewTextIter(text)
	for it.Next() {
		k, v := it.Key(), it.Value()
		if err := CheckKV(k, v); err != nil {
			return Request{}, false, fmt.Errorf("login: response text: %w", err)
		}
		id := lookupKey(k)
		if id != kNone {
			if here[id] {
				return Request{}, false, fmt.Errorf("login: response text: %w", ErrDuplicateKey)
			}
			here[id] = true
		}
		switch id {
		case kNone:
			if unknown == nil {
				unknown = make(map[string]bool)
			}
			if unknown[string(k)] {
				return Request{}, false, fmt.Errorf("login: response text: %w", ErrDuplicateKey)
			}
			unknown[string(k)] = true
			if !isSpecial(v) {
				n.out = appendKVBytes(n.out, string(k), []byte(valNotUnderstood))
			}
		case kTargetAlias:
			n.p.TargetAlias = string(v)
		case kTargetPortalGroupTag:
			x, err := parseNumber(v)
			if err != nil || x > 65535 {
				return Request{}, false, n.errorf("bad TargetPortalGroupTag")
			}
			n.p.TargetPortalGroupTag = uint16(x)
		case kTargetAddress:
		case kAuthMethod:
			switch {
			case n.cfg.CHAP != nil && string(v) == "CHAP":
				n.auth = authCHAPWaitA
			case n.cfg.CHAP == nil && string(v) == valNone:
				n.auth = authDone
			default:
				return Request{}, false, n.errorf("target chose AuthMethod=%q", v)
			}
		case kCHAPA:
			chapA = v
		case kCHAPI:
			chapI = v
		case kCHAPC:
			chapC = v
		case kCHAPN:
			chapN = v
		case kCHAPR:
			chapR = v
		case kMaxRecvDataSegmentLength:
			x, ok := parseNumKey(id, v)
			if !ok {
				return Request{}, false, n.errorf("bad MaxRecvDataSegmentLength")
			}
			n.p.PeerMaxRecvDataSegmentLength = uint32(x)
		case kTargetRecvDataSegmentLength:
			x, ok := parseNumKey(id, v)
			if !ok {
				return Request{}, false, n.errorf("bad TargetRecvDataSegmentLength")
			}
			n.p.TargetRecvDataSegmentLength = uint32(x)
		default:
			if err := n.answer(id, k, v); err != nil {
				return Request{}, false, err
			}
		}
	}
	if it.Err() != nil {
		return Request{}, false, fmt.Errorf("login: response text: %w", it.Err())
	}

	// CHAP (RFC 7143 §12.1.3).
	if chapA != nil || chapI != nil || chapC != nil {
		if n.auth != authCHAPWaitResponse || chapA == nil || chapI == nil || chapC == nil {
			return Request{}, false, n.errorf("unexpected CHAP challenge")
		}
		if string(chapA) != "5" {
			return Request{}, false, n.errorf("target chose CHAP_A=%q", chapA)
		}
		id, err := parseNumber(chapI)
		if err != nil || id > 255 {
			return Request{}, false, n.errorf("bad CHAP_I")
		}
		c, err := DecodeBinary(chapC)
		if err != nil {
			return Request{}, false, n.errorf("bad CHAP_C")
		}
		r := CHAPResponse(byte(id), n.cfg.CHAP.Secret, c)
		n.out = AppendKV(n.out, "CHAP_N", n.cfg.CHAP.User)
		n.out = append(n.out, "CHAP_R="...)
		n.out = appendHexValue(n.out, r[:])
		n.out = append(n.out, 0)
		if m := n.cfg.MutualCHAP; m != nil {
			var buf [1 + CHAPChallengeLen]byte
			if _, err := io.ReadFull(n.rand(), buf[:]); err != nil {
				return Request{}, false, fmt.Errorf("login: mutual CHAP challenge: %w", err)
			}
			if bytes.Equal(buf[1:], c) {
				return Request{}, false, n.errorf("mutual CHAP challenge equals the target's")
			}
			n.chapID = buf[0]
			n.chapChallenge = append(n.chapChallenge[:0], buf[1:]...)
			n.out = appendNum(n.out, "CHAP_I", uint64(n.chapID))
			n.out = append(n.out, "CHAP_C="...)
			n.out = appendHexValue(n.out, n.chapChallenge)
			n.out = append(n.out, 0)
			n.auth = authMutualWait
		} else {
			n.auth = authDone
		}
		return Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true, Text: n.out}, false, nil
	}
	if chapN != nil || chapR != nil {
		m := n.cfg.MutualCHAP
		if m == nil || n.chapChallenge == nil || chapN == nil || chapR == nil {
			return Request{}, false, n.errorf("unexpected CHAP response from target")
		}
		r, err := DecodeBinary(chapR)
		if err != nil {
			return Request{}, false, &StatusError{Status: StatusAuthFailed, Reason: "malformed target CHAP_R"}
		}
		userOK := subtle.ConstantTimeCompare(chapN, []byte(m.User)) == 1
		if !chapVerifyResp(n.chapID, m.Secret, n.chapChallenge, r) || !userOK {
			return Request{}, false, &StatusError{Status: StatusAuthFailed, Reason: "target failed mutual CHAP"}
		}
		n.mutualVerified = true
		n.auth = authDone
	}

	if resp.Transit {
		if n.stage == SecurityNegotiation && (n.auth != authDone || (n.cfg.MutualCHAP != nil && !n.mutualVerified)) {
			return Request{}, false, n.errorf("target left security negotiation before authentication completed")
		}
		if resp.NSG <= n.stage || resp.NSG == 2 {
			return Request{}, false, n.errorf("bad NSG %v", resp.NSG)
		}
		n.stage = resp.NSG
		if n.stage == FullFeaturePhase {
			n.done = true
			if n.p.FirstBurstLength > n.p.MaxBurstLength {
				n.p.FirstBurstLength = n.p.MaxBurstLength
			}
			return Request{}, true, nil
		}
	}

	switch n.stage {
	case SecurityNegotiation:
		if n.auth == authCHAPWaitA {
			n.out = AppendKV(n.out, "CHAP_A", "5")
			n.auth = authCHAPWaitResponse
			return Request{CSG: SecurityNegotiation, Text: n.out}, false, nil
		}
		return Request{CSG: SecurityNegotiation, NSG: OperationalNegotiation, Transit: true, Text: n.out}, false, nil
	default:
		if !n.proposedOp {
			n.proposedOp = true
			n.propose()
		}
		return Request{CSG: OperationalNegotiation, NSG: FullFeaturePhase, Transit: true, Text: n.out}, false, nil
	}
}

// propose appends the operational proposals.
func (n *InitiatorNegotiator) propose() {
	w := &n.want
	prop := func(id keyID) { n.proposed[id] = true }
	dig := func(id keyID, on bool) {
		if n.answered[id] {
			return
		}
		v := valNone
		if on {
			v = "CRC32C,None"
		}
		n.out = AppendKV(n.out, keyDefs[id].name, v)
		prop(id)
	}
	dig(kHeaderDigest, w.HeaderDigest)
	dig(kDataDigest, w.DataDigest)
	n.out = appendNum(n.out, "MaxRecvDataSegmentLength", uint64(w.MaxRecvDataSegmentLength))
	num := func(id keyID) {
		if n.answered[id] {
			return
		}
		n.out = appendNum(n.out, keyDefs[id].name, numParam(w, id))
		prop(id)
	}
	boo := func(id keyID) {
		if n.answered[id] {
			return
		}
		n.out = AppendKV(n.out, keyDefs[id].name, boolValue(boolParam(w, id)))
		prop(id)
	}
	num(kDefaultTime2Wait)
	num(kDefaultTime2Retain)
	num(kErrorRecoveryLevel)
	if w.ProtocolLevel != 0 {
		num(kProtocolLevel)
	}
	if n.p.SessionType == SessionDiscovery {
		return
	}
	num(kMaxConnections)
	boo(kInitialR2T)
	boo(kImmediateData)
	num(kMaxBurstLength)
	if !(w.InitialR2T && !w.ImmediateData) && !n.answered[kFirstBurstLength] {
		n.out = appendNum(n.out, "FirstBurstLength", uint64(min(w.FirstBurstLength, w.MaxBurstLength)))
		prop(kFirstBurstLength)
	}
	num(kMaxOutstandingR2T)
	boo(kDataPDUInOrder)
	boo(kDataSequenceInOrder)
	if w.RDMAExtensions {
		boo(kRDMAExtensions)
		n.out = appendNum(n.out, "InitiatorRecvDataSegmentLength", uint64(w.InitiatorRecvDataSegmentLength))
		n.p.InitiatorRecvDataSegmentLength = w.InitiatorRecvDataSegmentLength
		if w.MaxOutstandingUnexpectedPDUs != 0 {
			num(kMaxOutstandingUnexpectedPDUs)
		}
	}
}

// answer handles a key in a response: the target's answer to our proposal,
// or a target-originated offer we must answer.
func (n *InitiatorNegotiator) answer(id keyID, k, v []byte) error {
	d := &keyDefs[id]
	if d.kind == kindSecurity || d.kind == kindDeclInitiator {
		return n.errorf("unexpected key %s from target", d.name)
	}
	if !n.proposed[id] {
		// Target-originated offer: answer it with our result.
		if isSpecial(v) {
			return nil
		}
		if checkValue(k, v) != nil {
			n.out = AppendKV(n.out, d.name, valReject)
			return nil
		}
		n.out, _ = respond(n.out, &n.p, &n.want, id, k, v)
		n.answered[id] = true
		return nil
	}
	n.proposed[id] = false
	if isSpecial(v) {
		return nil // keep the default
	}
	switch d.kind {
	case kindBoolOr, kindBoolAnd:
		b, err := parseBool(v)
		if err != nil {
			return n.errorf("bad %s=%q", d.name, v)
		}
		ours := boolParam(&n.want, id)
		if boolResult(id, b, ours) != b {
			return n.errorf("%s=%q violates its result function", d.name, v)
		}
		setBool(&n.p, id, b)
	case kindNumMin, kindNumMax:
		x, ok := parseNumKey(id, v)
		if !ok {
			return n.errorf("bad %s=%q", d.name, v)
		}
		ours := numParam(&n.want, id)
		if id == kFirstBurstLength {
			ours = uint64(min(n.want.FirstBurstLength, n.want.MaxBurstLength))
		}
		if numResult(id, x, ours) != x {
			return n.errorf("%s=%q violates its result function", d.name, v)
		}
		setNum(&n.p, id, x)
	case kindList:
		switch id {
		case kHeaderDigest, kDataDigest:
			allowed := digestSupported(boolParam2(&n.want, id))
			if !allowed(string(v)) {
				return n.errorf("bad %s=%q", d.name, v)
			}
			if id == kHeaderDigest {
				n.p.HeaderDigest = string(v) == valCRC32C
			} else {
				n.p.DataDigest = string(v) == valCRC32C
			}
		default:
			n.p.TaskReporting = string(v)
		}
	}
	return nil
}

func boolParam2(p *Params, id keyID) bool {
	if id == kHeaderDigest {
		return p.HeaderDigest
	}
	return p.DataDigest
}
