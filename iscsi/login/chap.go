package login

import (
	"crypto/md5"
	"crypto/subtle"
)

// CHAPSecret is a CHAP name and secret (RFC 7143 §12.1.3).
type CHAPSecret struct{ User, Secret string }

// CHAPAlgMD5 is the CHAP_A value for MD5 (RFC 1994), the only algorithm
// RFC 7143 requires.
const CHAPAlgMD5 = 5

// CHAPChallengeLen is the length of the challenges this package generates.
const CHAPChallengeLen = 16

// CHAPResponse computes the CHAP MD5 response MD5(id || secret || challenge)
// (RFC 1994 §4.1).
func CHAPResponse(id byte, secret string, challenge []byte) [md5.Size]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	var out [md5.Size]byte
	h.Sum(out[:0])
	return out
}

// chapVerify checks resp against the expected response in constant time.
func chapVerifyResp(id byte, secret string, challenge, resp []byte) bool {
	want := CHAPResponse(id, secret, challenge)
	return subtle.ConstantTimeCompare(want[:], resp) == 1
}
