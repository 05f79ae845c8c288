package login

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"io"
)

func (n *TargetNegotiator) rand() io.Reader {
	if n.cfg.Rand != nil {
		return n.cfg.Rand
	}
	return rand.Reader
}

// authMethod answers AuthMethod (RFC 7143 §12): the first method of the
// initiator's list the target supports.
func (n *TargetNegotiator) authMethod(v []byte) (uint16, string) {
	want := valNone
	if n.authRequired {
		want = "CHAP"
	}
	if !listContains(v, want) {
		n.out = AppendKV(n.out, "AuthMethod", valReject)
		return StatusAuthFailed, "no acceptable AuthMethod"
	}
	n.out = AppendKV(n.out, "AuthMethod", want)
	if n.authRequired {
		n.auth = authCHAPWaitA
	} else {
		n.auth = authDone
	}
	return 0, ""
}

// chapAlgorithm answers CHAP_A with CHAP_A=5, CHAP_I and CHAP_C.
func (n *TargetNegotiator) chapAlgorithm(v []byte) (uint16, string) {
	if n.auth != authCHAPWaitA {
		return StatusAuthFailed, "unexpected CHAP_A"
	}
	if !listContains(v, "5") {
		return StatusAuthFailed, "no supported CHAP algorithm"
	}
	var buf [1 + CHAPChallengeLen]byte
	if _, err := io.ReadFull(n.rand(), buf[:]); err != nil {
		return StatusOutOfResources, "no randomness for CHAP challenge"
	}
	n.chapID = buf[0]
	n.chapChallenge = append(n.chapChallenge[:0], buf[1:]...)
	n.out = AppendKV(n.out, "CHAP_A", "5")
	n.out = appendNum(n.out, "CHAP_I", uint64(n.chapID))
	n.out = append(n.out, "CHAP_C="...)
	n.out = appendHexValue(n.out, n.chapChallenge)
	n.out = append(n.out, 0)
	n.auth = authCHAPWaitResponse
	return 0, ""
}

// chapVerify checks CHAP_N/CHAP_R and, for mutual CHAP, answers the
// initiator's CHAP_I/CHAP_C (RFC 7143 §12.1.3).
func (n *TargetNegotiator) chapVerify(name, resp, id, chal []byte) (uint16, string) {
	if n.auth != authCHAPWaitResponse {
		return StatusAuthFailed, "unexpected CHAP response"
	}
	if name == nil || resp == nil {
		return StatusAuthFailed, "CHAP_N or CHAP_R missing"
	}
	sec := n.info.CHAP
	r, err := DecodeBinary(resp)
	if err != nil {
		return StatusAuthFailed, "malformed CHAP_R"
	}
	userOK := subtle.ConstantTimeCompare(name, []byte(sec.User)) == 1
	if !chapVerifyResp(n.chapID, sec.Secret, n.chapChallenge, r) || !userOK {
		return StatusAuthFailed, "CHAP authentication failed"
	}
	mutual := id != nil || chal != nil
	if !mutual {
		if n.info.RequireMutual {
			return StatusAuthFailed, "mutual CHAP required"
		}
		n.auth = authDone
		n.authUser = sec.User
		return 0, ""
	}
	if id == nil || chal == nil {
		return StatusAuthFailed, "CHAP_I or CHAP_C missing"
	}
	if n.info.MutualCHAP == nil {
		return StatusAuthFailed, "mutual CHAP not configured"
	}
	iid, err := parseNumber(id)
	if err != nil || iid > 255 {
		return StatusAuthFailed, "malformed CHAP_I"
	}
	c, err := DecodeBinary(chal)
	if err != nil {
		return StatusAuthFailed, "malformed CHAP_C"
	}
	if bytes.Equal(c, n.chapChallenge) {
		return StatusAuthFailed, "reflected CHAP challenge"
	}
	if n.info.MutualCHAP.Secret == sec.Secret {
		// RFC 7143 §12.1.3: the same secret must not serve both directions.
		return StatusAuthFailed, "mutual CHAP secret equals initiator secret"
	}
	mr := CHAPResponse(byte(iid), n.info.MutualCHAP.Secret, c)
	n.out = AppendKV(n.out, "CHAP_N", n.info.MutualCHAP.User)
	n.out = append(n.out, "CHAP_R="...)
	n.out = appendHexValue(n.out, mr[:])
	n.out = append(n.out, 0)
	n.auth = authDone
	n.authUser = sec.User
	return 0, ""
}
