package login

import "strconv"

// numParam returns the numerical parameter for id.
func numParam(p *Params, id keyID) uint64 {
	switch id {
	case kMaxConnections:
		return uint64(p.MaxConnections)
	case kMaxRecvDataSegmentLength:
		return uint64(p.MaxRecvDataSegmentLength)
	case kMaxBurstLength:
		return uint64(p.MaxBurstLength)
	case kFirstBurstLength:
		return uint64(p.FirstBurstLength)
	case kDefaultTime2Wait:
		return uint64(p.DefaultTime2Wait)
	case kDefaultTime2Retain:
		return uint64(p.DefaultTime2Retain)
	case kMaxOutstandingR2T:
		return uint64(p.MaxOutstandingR2T)
	case kErrorRecoveryLevel:
		return uint64(p.ErrorRecoveryLevel)
	case kProtocolLevel:
		return uint64(p.ProtocolLevel)
	case kTargetRecvDataSegmentLength:
		return uint64(p.TargetRecvDataSegmentLength)
	case kInitiatorRecvDataSegmentLength:
		return uint64(p.InitiatorRecvDataSegmentLength)
	case kMaxOutstandingUnexpectedPDUs:
		return uint64(p.MaxOutstandingUnexpectedPDUs)
	}
	return 0
}

// setNum stores a negotiated numerical parameter (already range checked).
func setNum(p *Params, id keyID, v uint64) {
	switch id {
	case kMaxConnections:
		p.MaxConnections = uint32(v)
	case kMaxBurstLength:
		p.MaxBurstLength = uint32(v)
	case kFirstBurstLength:
		p.FirstBurstLength = uint32(v)
	case kDefaultTime2Wait:
		p.DefaultTime2Wait = uint32(v)
	case kDefaultTime2Retain:
		p.DefaultTime2Retain = uint32(v)
	case kMaxOutstandingR2T:
		p.MaxOutstandingR2T = uint32(v)
	case kErrorRecoveryLevel:
		p.ErrorRecoveryLevel = uint8(v)
	case kProtocolLevel:
		p.ProtocolLevel = uint8(v)
	case kMaxOutstandingUnexpectedPDUs:
		p.MaxOutstandingUnexpectedPDUs = uint32(v)
	}
}

func boolParam(p *Params, id keyID) bool {
	switch id {
	case kInitialR2T:
		return p.InitialR2T
	case kImmediateData:
		return p.ImmediateData
	case kDataPDUInOrder:
		return p.DataPDUInOrder
	case kDataSequenceInOrder:
		return p.DataSequenceInOrder
	case kRDMAExtensions:
		return p.RDMAExtensions
	}
	return false
}

func setBool(p *Params, id keyID, v bool) {
	switch id {
	case kInitialR2T:
		p.InitialR2T = v
	case kImmediateData:
		p.ImmediateData = v
	case kDataPDUInOrder:
		p.DataPDUInOrder = v
	case kDataSequenceInOrder:
		p.DataSequenceInOrder = v
	case kRDMAExtensions:
		p.RDMAExtensions = v
	}
}

// numResult applies the result function of a numerical key (RFC 7143 §6.2.2).
// MaxOutstandingUnexpectedPDUs treats 0 as "no limit" (RFC 7145 §6.3).
func numResult(id keyID, a, b uint64) uint64 {
	if id == kMaxOutstandingUnexpectedPDUs {
		if a == 0 {
			return b
		}
		if b == 0 {
			return a
		}
	}
	if keyDefs[id].kind == kindNumMax {
		return max(a, b)
	}
	return min(a, b)
}

// parseNumKey parses and range checks a numerical value for id.
func parseNumKey(id keyID, v []byte) (uint64, bool) {
	n, err := parseNumber(v)
	if err != nil {
		return 0, false
	}
	d := &keyDefs[id]
	if n < d.min || n > d.max {
		return 0, false
	}
	if id == kMaxOutstandingUnexpectedPDUs && n == 1 {
		return 0, false // range is 0 or 2..2^32-1
	}
	return n, true
}

// boolResult applies the OR/AND result function.
func boolResult(id keyID, a, b bool) bool {
	if keyDefs[id].kind == kindBoolOr {
		return a || b
	}
	return a && b
}

// chooseList picks the first value of the offered list that supported
// accepts (RFC 7143 §6.2.1).
func chooseList(offer []byte, supported func(string) bool) (string, bool) {
	for len(offer) > 0 {
		var e []byte
		e, offer = nextListItem(offer)
		if supported(string(e)) {
			return string(e), true
		}
	}
	return "", false
}

func digestSupported(allowCRC bool) func(string) bool {
	return func(s string) bool { return s == valNone || (allowCRC && s == valCRC32C) }
}

func taskReportingSupported(s string) bool { return s == "RFC3720" }

func appendNum(dst []byte, key string, v uint64) []byte {
	dst = append(dst, key...)
	dst = append(dst, '=')
	dst = strconv.AppendUint(dst, v, 10)
	return append(dst, 0)
}

// respond negotiates one key offered by the peer against ours (our
// capabilities/limits), stores the result in p and appends the answer to out.
// It is used by the target for every initiator offer and by the initiator
// for target-originated offers. rejected reports a Reject answer.
func respond(out []byte, p, ours *Params, id keyID, key, v []byte) (_ []byte, rejected bool) {
	d := &keyDefs[id]
	switch d.kind {
	case kindBoolOr, kindBoolAnd:
		b, err := parseBool(v)
		if err != nil {
			return AppendKV(out, d.name, valReject), true
		}
		r := boolResult(id, b, boolParam(ours, id))
		setBool(p, id, r)
		return AppendKV(out, d.name, boolValue(r)), false
	case kindNumMin, kindNumMax:
		n, ok := parseNumKey(id, v)
		if !ok {
			return AppendKV(out, d.name, valReject), true
		}
		r := numResult(id, n, numParam(ours, id))
		setNum(p, id, r)
		return appendNum(out, d.name, r), false
	case kindList:
		var sup func(string) bool
		switch id {
		case kHeaderDigest:
			sup = digestSupported(ours.HeaderDigest)
		case kDataDigest:
			sup = digestSupported(ours.DataDigest)
		default:
			sup = taskReportingSupported
		}
		c, ok := chooseList(v, sup)
		if !ok {
			return AppendKV(out, d.name, valReject), true
		}
		switch id {
		case kHeaderDigest:
			p.HeaderDigest = c == valCRC32C
		case kDataDigest:
			p.DataDigest = c == valCRC32C
		default:
			p.TaskReporting = c
		}
		return AppendKV(out, d.name, c), false
	case kindMarker:
		// RFC 7143 §13.26: obsoleted; "No" is an allowed answer and the
		// one RFC 3720 peers understand.
		if _, err := parseBool(v); err != nil {
			return AppendKV(out, d.name, valReject), true
		}
		return AppendKV(out, d.name, valNo), false
	case kindMarkInt:
		return AppendKV(out, d.name, valReject), true
	case kindFFPOnly:
		return AppendKV(out, d.name, valIrrelevant), false
	}
	return appendKVBytes(out, string(key), []byte(valNotUnderstood)), false
}
