package login

import (
	"errors"
)

const (
	maxLoginSteps = 128
	maxLoginText  = 64 << 10
)

type keyState uint8

const (
	stNone keyState = iota
	stDone
	stOffered
)

type authState uint8

const (
	authUnset authState = iota
	authCHAPWaitA
	authCHAPWaitResponse
	authMutualWait // initiator: waiting for the target's mutual CHAP answer
	authDone
)

// TargetNegotiator runs the target side of one connection's login.
type TargetNegotiator struct {
	cfg    *TargetConfig
	limits Params
	isid   uint64
	tsih   uint16

	stage         Stage
	steps         int
	started       bool
	done, failed  bool
	accum, out    []byte
	seen          [numKeys]keyState
	unknown       map[string]struct{}
	p             Params
	info          TargetInfo
	authRequired  bool
	auth          authState
	chapID        byte
	chapChallenge []byte
	declaredMRDSL bool
	pendingOffers int
	authUser      string
	holdTransit   bool
}

// NewTarget returns the negotiator for a connection whose Login Requests
// carry isid and tsih. cfg must stay unchanged while in use.
func NewTarget(cfg *TargetConfig, isid uint64, tsih uint16) *TargetNegotiator {
	n := &TargetNegotiator{cfg: cfg, isid: isid, tsih: tsih, p: DefaultParams()}
	n.limits = normalizeLimits(cfg.Limits)
	n.p.MaxRecvDataSegmentLength = n.limits.MaxRecvDataSegmentLength
	n.p.ProtocolLevel = 0
	return n
}

func normalizeLimits(l Params) Params {
	d := DefaultParams()
	fix := func(v *uint32, def uint32) {
		if *v == 0 {
			*v = def
		}
	}
	fix(&l.MaxConnections, 1)
	fix(&l.MaxRecvDataSegmentLength, d.MaxRecvDataSegmentLength)
	fix(&l.MaxBurstLength, d.MaxBurstLength)
	fix(&l.FirstBurstLength, d.FirstBurstLength)
	fix(&l.MaxOutstandingR2T, 1)
	fix(&l.TargetRecvDataSegmentLength, d.TargetRecvDataSegmentLength)
	if l.DefaultTime2Retain == 0 && l.DefaultTime2Wait == 0 {
		l.DefaultTime2Wait, l.DefaultTime2Retain = d.DefaultTime2Wait, d.DefaultTime2Retain
	}
	if l.ProtocolLevel == 0 {
		l.ProtocolLevel = ProtocolLevel
	}
	if l.ErrorRecoveryLevel > 2 {
		l.ErrorRecoveryLevel = 2
	}
	clamp := func(v *uint32, lo, hi uint32) { *v = min(max(*v, lo), hi) }
	clamp(&l.MaxRecvDataSegmentLength, 512, max24)
	clamp(&l.MaxBurstLength, 512, max24)
	clamp(&l.FirstBurstLength, 512, l.MaxBurstLength)
	clamp(&l.TargetRecvDataSegmentLength, 512, max24)
	clamp(&l.DefaultTime2Wait, 0, 3600)
	clamp(&l.DefaultTime2Retain, 0, 3600)
	clamp(&l.MaxConnections, 1, 65535)
	clamp(&l.MaxOutstandingR2T, 1, 65535)
	if l.TaskReporting == "" {
		l.TaskReporting = "RFC3720"
	}
	return l
}

// Params returns the negotiated parameters (final once Response.Done).
func (n *TargetNegotiator) Params() Params { return n.p }

// SessionType is "Normal" or "Discovery" (valid after the first request).
func (n *TargetNegotiator) SessionType() string { return n.p.SessionType }

// InitiatorName is the initiator's declared name.
func (n *TargetNegotiator) InitiatorName() string { return n.p.InitiatorName }

// TargetName is the resolved target name (empty for discovery sessions
// without a TargetName).
func (n *TargetNegotiator) TargetName() string { return n.p.TargetName }

// ISID and TSIH are the values the negotiator was created for.
func (n *TargetNegotiator) ISID() uint64 { return n.isid }

// TSIH is the session handle from the Login Request.
func (n *TargetNegotiator) TSIH() uint16 { return n.tsih }

// Stage is the current login stage.
func (n *TargetNegotiator) Stage() Stage { return n.stage }

// AuthUser is the CHAP name the initiator authenticated as ("" for None).
func (n *TargetNegotiator) AuthUser() string { return n.authUser }

func (n *TargetNegotiator) fail(status uint16, reason string) (Response, error) {
	n.failed = true
	return Response{
		CSG:          n.stage,
		StatusClass:  uint8(status >> 8),
		StatusDetail: uint8(status),
	}, &StatusError{Status: status, Reason: reason}
}

// Step consumes one Login Request and returns the Login Response to send.
// A non-nil error means the login failed: the Response carries the status
// to send before closing the connection.
func (n *TargetNegotiator) Step(req Request) (Response, error) {
	if n.done {
		return Response{CSG: n.stage, StatusClass: 2}, ErrLoginComplete
	}
	if n.failed {
		return n.fail(StatusInitiatorError, "login already failed")
	}
	n.steps++
	if n.steps > maxLoginSteps {
		return n.fail(StatusInitiatorError, "too many login requests")
	}
	if !n.started {
		if req.VersionMin > 0 {
			return n.fail(StatusUnsupportedVersion, "unsupported version")
		}
		if req.CSG != SecurityNegotiation && req.CSG != OperationalNegotiation {
			return n.fail(StatusInvalidDuringLogin, "bad CSG in first login request")
		}
		n.stage = req.CSG
	} else if req.CSG != n.stage {
		return n.fail(StatusInvalidDuringLogin, "CSG does not match the login stage")
	}
	if req.Transit && req.Continue {
		return n.fail(StatusInitiatorError, "T and C both set")
	}
	if req.Transit {
		ok := (req.CSG == SecurityNegotiation && (req.NSG == OperationalNegotiation || req.NSG == FullFeaturePhase)) ||
			(req.CSG == OperationalNegotiation && req.NSG == FullFeaturePhase)
		if !ok {
			return n.fail(StatusInvalidDuringLogin, "invalid stage transition")
		}
	}
	if len(n.accum)+len(req.Text) > maxLoginText {
		return n.fail(StatusInitiatorError, "login text too long")
	}
	if req.Continue {
		n.accum = append(n.accum, req.Text...)
		n.out = n.out[:0]
		return Response{CSG: n.stage, Text: n.out}, nil
	}
	text := req.Text
	if len(n.accum) > 0 {
		n.accum = append(n.accum, req.Text...)
		text = n.accum
	}
	resp, err := n.process(req, text)
	n.accum = n.accum[:0]
	return resp, err
}

// deferred keys are handled after the rest of their PDU, because their
// relevance or range depends on other keys.
type deferredKV struct {
	id  keyID
	key []byte
	v   []byte
}

func (n *TargetNegotiator) process(req Request, text []byte) (Response, error) {
	n.out = n.out[:0]
	n.holdTransit = false
	first := !n.started

	// Pass 1: syntax, duplicates within the PDU, identity keys.
	var here [numKeys]bool
	it := NewTextIter(text)
	for it.Next() {
		k, v := it.Key(), it.Value()
		if err := checkKey(k); err != nil {
			return n.fail(StatusInitiatorError, "malformed key")
		}
		id := lookupKey(k)
		if id == kNone {
			continue
		}
		if here[id] {
			return n.fail(StatusInitiatorError, "duplicate key "+keyDefs[id].name)
		}
		here[id] = true
		var dst *string
		switch id {
		case kInitiatorName:
			dst = &n.p.InitiatorName
		case kTargetName:
			dst = &n.p.TargetName
		case kInitiatorAlias:
			dst = &n.p.InitiatorAlias
		case kSessionType:
			if string(v) != SessionNormal && string(v) != SessionDiscovery {
				return n.fail(StatusSessionTypeUnsupp, "unknown SessionType")
			}
			if !first && string(v) != n.p.SessionType {
				return n.fail(StatusInitiatorError, "SessionType changed")
			}
			n.p.SessionType = string(v)
			continue
		default:
			continue
		}
		if err := checkValue(k, v); err != nil {
			return n.fail(StatusInitiatorError, "bad "+keyDefs[id].name)
		}
		if len(v) == 0 {
			continue // reported as missing by start
		}
		if first || *dst == "" {
			*dst = string(v)
		} else if *dst != string(v) {
			// A repeat with the same value is tolerated.
			return n.fail(StatusInitiatorError, keyDefs[id].name+" changed")
		}
	}
	if it.Err() != nil {
		return n.fail(StatusInitiatorError, "malformed login text")
	}
	if first {
		if resp, err, bad := n.start(req); bad {
			return resp, err
		}
	}

	// Pass 2: negotiation.
	var chapN, chapR, chapI, chapC []byte
	var haveCHAPResp bool
	var deferred [4]deferredKV
	nd := 0
	discovery := n.p.SessionType == SessionDiscovery
	it = NewTextIter(text)
	for it.Next() {
		k, v := it.Key(), it.Value()
		id := lookupKey(k)
		switch id {
		case kInitiatorName, kTargetName, kInitiatorAlias, kSessionType:
			continue
		case kNone:
			if n.unknown == nil {
				n.unknown = make(map[string]struct{})
			}
			if _, dup := n.unknown[string(k)]; dup {
				return n.fail(StatusInitiatorError, "duplicate key")
			}
			n.unknown[string(k)] = struct{}{}
			if !isSpecial(v) {
				n.out = appendKVBytes(n.out, string(k), []byte(valNotUnderstood))
			}
			continue
		}
		d := &keyDefs[id]
		st := n.seen[id]
		if st == stDone {
			return n.fail(StatusInitiatorError, "key negotiated twice: "+d.name)
		}
		n.seen[id] = stDone
		if d.kind == kindSecurity {
			if n.stage != SecurityNegotiation {
				return n.fail(StatusInitiatorError, "security key outside SecurityNegotiation")
			}
			if checkValue(k, v) != nil {
				return n.fail(StatusAuthFailed, "bad "+d.name)
			}
			switch id {
			case kAuthMethod:
				if s, reason := n.authMethod(v); s != 0 {
					return n.fail(s, reason)
				}
			case kCHAPA:
				if s, reason := n.chapAlgorithm(v); s != 0 {
					return n.fail(s, reason)
				}
			case kCHAPN:
				chapN, haveCHAPResp = v, true
			case kCHAPR:
				chapR, haveCHAPResp = v, true
			case kCHAPI:
				chapI, haveCHAPResp = v, true
			case kCHAPC:
				chapC, haveCHAPResp = v, true
			}
			continue
		}
		if st == stOffered {
			n.pendingOffers--
			n.offerReply(id, v)
			continue
		}
		if isSpecial(v) {
			continue // an answer to nothing we offered
		}
		if checkValue(k, v) != nil {
			n.out = AppendKV(n.out, d.name, valReject)
			n.seen[id] = stNone
			n.holdTransit = true
			continue
		}
		if d.noDiscover && discovery {
			n.out = AppendKV(n.out, d.name, valIrrelevant)
			continue
		}
		if id == kFirstBurstLength || d.iser {
			if nd < len(deferred) {
				deferred[nd] = deferredKV{id, k, v}
				nd++
			}
			continue
		}
		if !n.negotiate(id, k, v) {
			return n.fail(StatusInitiatorError, "bad "+d.name)
		}
	}
	for _, dk := range deferred[:nd] {
		switch {
		case dk.id == kFirstBurstLength && n.p.InitialR2T && !n.p.ImmediateData:
			n.out = AppendKV(n.out, keyDefs[dk.id].name, valIrrelevant)
		case keyDefs[dk.id].iser && !n.p.RDMAExtensions:
			n.out = AppendKV(n.out, keyDefs[dk.id].name, valIrrelevant)
		default:
			if !n.negotiate(dk.id, dk.key, dk.v) {
				return n.fail(StatusInitiatorError, "bad "+keyDefs[dk.id].name)
			}
		}
	}
	if haveCHAPResp {
		if s, reason := n.chapVerify(chapN, chapR, chapI, chapC); s != 0 {
			return n.fail(s, reason)
		}
	}
	return n.transition(req)
}

// start handles the first complete Login Request: mandatory keys, target
// lookup and the first-response declarations.
func (n *TargetNegotiator) start(req Request) (Response, error, bool) {
	n.started = true
	if n.p.InitiatorName == "" {
		r, err := n.fail(StatusMissingParameter, "missing InitiatorName")
		return r, err, true
	}
	switch n.p.SessionType {
	case SessionDiscovery:
		if n.cfg.NoDiscovery {
			r, err := n.fail(StatusSessionTypeUnsupp, "discovery sessions disabled")
			return r, err, true
		}
		n.info = n.cfg.Discovery
	default:
		if n.p.TargetName == "" {
			r, err := n.fail(StatusMissingParameter, "missing TargetName")
			return r, err, true
		}
		if n.cfg.Lookup == nil {
			r, err := n.fail(StatusTargetNotFound, "no such target")
			return r, err, true
		}
		info, err := n.cfg.Lookup(n.p.TargetName, n.p.InitiatorName)
		if err != nil {
			st := StatusTargetError
			switch {
			case errors.Is(err, ErrTargetNotFound):
				st = StatusTargetNotFound
			case errors.Is(err, ErrForbidden):
				st = StatusForbidden
			case errors.Is(err, ErrTargetRemoved):
				st = StatusTargetRemoved
			}
			r, e := n.fail(st, err.Error())
			return r, e, true
		}
		n.info = info
		if info.Name != "" {
			n.p.TargetName = info.Name
		}
	}
	n.authRequired = n.info.CHAP != nil
	if req.CSG == OperationalNegotiation && n.authRequired {
		r, err := n.fail(StatusAuthFailed, "authentication required")
		return r, err, true
	}
	if req.CSG == OperationalNegotiation {
		n.auth = authDone
	}
	n.p.TargetAlias = n.info.Alias
	if n.p.TargetAlias == "" {
		n.p.TargetAlias = n.cfg.TargetAlias
	}
	n.p.TargetPortalGroupTag = n.cfg.PortalGroupTag
	if n.p.SessionType == SessionNormal {
		if n.p.TargetAlias != "" {
			n.out = AppendKV(n.out, "TargetAlias", n.p.TargetAlias)
		}
		n.out = appendNum(n.out, "TargetPortalGroupTag", uint64(n.p.TargetPortalGroupTag))
	}
	return Response{}, nil, false
}

// negotiate answers one initiator key. It returns false if the value makes
// the login fail.
func (n *TargetNegotiator) negotiate(id keyID, k, v []byte) bool {
	d := &keyDefs[id]
	switch d.kind {
	case kindDeclInitiator:
		// A declaration cannot be answered with Reject without clashing
		// with our own declaration of the same key: values above the
		// range are clamped (we never send more), values below are fatal.
		x, err := parseNumber(v)
		if err != nil || x < d.min {
			return false
		}
		x = min(x, d.max)
		if id == kMaxRecvDataSegmentLength {
			n.p.PeerMaxRecvDataSegmentLength = uint32(x)
		} else {
			n.p.InitiatorRecvDataSegmentLength = uint32(x)
		}
	case kindDeclTarget:
		// Target-only declarations from an initiator are meaningless;
		// answering would clash with our own declaration of the key.
	case kindNumMin, kindNumMax:
		if id == kFirstBurstLength {
			// FirstBurstLength must not exceed MaxBurstLength (§13.14).
			lim := n.limits
			lim.FirstBurstLength = min(lim.FirstBurstLength, n.p.MaxBurstLength)
			return n.respond(&lim, id, k, v)
		}
		return n.respond(&n.limits, id, k, v)
	default:
		return n.respond(&n.limits, id, k, v)
	}
	return true
}

// respond answers an offer. A rejected key keeps its default, so it is
// left open for a target offer in a later round, and the target does not
// transit in this response.
func (n *TargetNegotiator) respond(lim *Params, id keyID, k, v []byte) bool {
	var rejected bool
	n.out, rejected = respond(n.out, &n.p, lim, id, k, v)
	if rejected {
		n.seen[id] = stNone
		n.holdTransit = true
	}
	return true
}

// offerReply records the initiator's answer to a key the target offered.
// Anything but a valid value in range keeps the RFC default.
func (n *TargetNegotiator) offerReply(id keyID, v []byte) {
	d := &keyDefs[id]
	switch d.kind {
	case kindNumMin, kindNumMax:
		if x, ok := parseNumKey(id, v); ok {
			setNum(&n.p, id, numResult(id, x, numParam(&n.limits, id)))
		}
	case kindBoolAnd, kindBoolOr:
		if b, err := parseBool(v); err == nil {
			setBool(&n.p, id, boolResult(id, b, boolParam(&n.limits, id)))
		}
	}
}

// offers appends the target-originated proposals for keys the initiator did
// not negotiate whose default exceeds what the target accepts.
func (n *TargetNegotiator) offers() {
	offer := func(id keyID, v uint64) {
		n.out = appendNum(n.out, keyDefs[id].name, v)
		n.seen[id] = stOffered
		n.pendingOffers++
	}
	d := DefaultParams()
	if n.seen[kMaxBurstLength] == stNone && n.limits.MaxBurstLength < d.MaxBurstLength {
		offer(kMaxBurstLength, uint64(n.limits.MaxBurstLength))
	}
	fbl := min(n.limits.FirstBurstLength, n.p.MaxBurstLength, n.limits.MaxBurstLength)
	if n.seen[kFirstBurstLength] == stNone && fbl < d.FirstBurstLength && !(n.p.InitialR2T && !n.p.ImmediateData) {
		offer(kFirstBurstLength, uint64(fbl))
	}
	if n.seen[kDefaultTime2Retain] == stNone && n.limits.DefaultTime2Retain < d.DefaultTime2Retain {
		offer(kDefaultTime2Retain, uint64(n.limits.DefaultTime2Retain))
	}
	if n.seen[kDefaultTime2Wait] == stNone && n.limits.DefaultTime2Wait > d.DefaultTime2Wait {
		offer(kDefaultTime2Wait, uint64(n.limits.DefaultTime2Wait))
	}
	if n.seen[kImmediateData] == stNone && !n.limits.ImmediateData {
		n.out = AppendKV(n.out, "ImmediateData", valNo)
		n.seen[kImmediateData] = stOffered
		n.pendingOffers++
	}
	if n.p.RDMAExtensions && n.seen[kMaxOutstandingUnexpectedPDUs] == stNone && n.limits.MaxOutstandingUnexpectedPDUs != 0 {
		offer(kMaxOutstandingUnexpectedPDUs, uint64(n.limits.MaxOutstandingUnexpectedPDUs))
	}
}

func (n *TargetNegotiator) declare() {
	if n.declaredMRDSL {
		return
	}
	n.declaredMRDSL = true
	n.out = appendNum(n.out, "MaxRecvDataSegmentLength", uint64(n.limits.MaxRecvDataSegmentLength))
	if n.p.RDMAExtensions {
		n.p.TargetRecvDataSegmentLength = n.limits.TargetRecvDataSegmentLength
		n.out = appendNum(n.out, "TargetRecvDataSegmentLength", uint64(n.limits.TargetRecvDataSegmentLength))
	}
}

func (n *TargetNegotiator) transition(req Request) (Response, error) {
	resp := Response{CSG: n.stage}
	transit := req.Transit
	if n.stage == SecurityNegotiation && transit {
		switch n.auth {
		case authCHAPWaitA, authCHAPWaitResponse:
			transit = false // CHAP must finish first
		case authUnset:
			if n.authRequired {
				return n.fail(StatusAuthFailed, "authentication required")
			}
			n.auth = authDone
		}
	}
	if n.holdTransit {
		transit = false
	}
	toFFP := transit && req.NSG == FullFeaturePhase
	if n.stage == OperationalNegotiation || (toFFP && n.limits.MaxRecvDataSegmentLength != 8192) {
		n.declare()
	}
	if toFFP && n.p.SessionType == SessionNormal {
		n.offers()
	}
	if n.pendingOffers > 0 {
		transit = false
	}
	if transit {
		resp.Transit = true
		resp.NSG = req.NSG
		n.stage = req.NSG
		if req.NSG == FullFeaturePhase {
			n.finish()
			n.done = true
			resp.Done = true
		}
	}
	resp.Text = n.out
	return resp, nil
}

// finish settles dependent parameters when entering full feature phase.
func (n *TargetNegotiator) finish() {
	n.p.MaxRecvDataSegmentLength = n.limits.MaxRecvDataSegmentLength
	if n.p.FirstBurstLength > n.p.MaxBurstLength {
		n.p.FirstBurstLength = n.p.MaxBurstLength
	}
	if !n.p.RDMAExtensions {
		n.p.TargetRecvDataSegmentLength = DefaultParams().TargetRecvDataSegmentLength
	}
}
