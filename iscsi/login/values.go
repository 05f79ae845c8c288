package login

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
)

// Special values (RFC 7143 §6.2).
const (
	valReject        = "Reject"
	valIrrelevant    = "Irrelevant"
	valNotUnderstood = "NotUnderstood"
	valYes           = "Yes"
	valNo            = "No"
	valNone          = "None"
	valCRC32C        = "CRC32C"
)

// Errors for values that do not parse.
var (
	ErrBadNumber = errors.New("login: malformed numerical value")
	ErrBadBinary = errors.New("login: malformed binary value")
	ErrBadBool   = errors.New("login: boolean value is neither Yes nor No")
)

// MaxBinaryLen bounds decoded binary values such as CHAP challenges
// (libiscsi#196: challenges up to 1024 bytes are in use).
const MaxBinaryLen = 1024

func isSpecial(v []byte) bool {
	s := string(v) // no allocation in comparisons
	return s == valReject || s == valIrrelevant || s == valNotUnderstood
}

// parseNumber decodes a decimal or hex ("0x") numerical value (RFC 7143
// §6.1 decimal-constant / hex-constant) of at most 64 bits.
func parseNumber(v []byte) (uint64, error) {
	if len(v) == 0 {
		return 0, ErrBadNumber
	}
	if len(v) > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X') {
		d := v[2:]
		if len(d) > 16 {
			return 0, ErrBadNumber
		}
		var n uint64
		for _, c := range d {
			h, ok := hexDigit(c)
			if !ok {
				return 0, ErrBadNumber
			}
			n = n<<4 | uint64(h)
		}
		return n, nil
	}
	if len(v) > 20 {
		return 0, ErrBadNumber
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, ErrBadNumber
		}
	}
	n, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return 0, ErrBadNumber
	}
	return n, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func parseBool(v []byte) (bool, error) {
	switch string(v) {
	case valYes:
		return true, nil
	case valNo:
		return false, nil
	}
	return false, ErrBadBool
}

func boolValue(b bool) string {
	if b {
		return valYes
	}
	return valNo
}

// DecodeBinary decodes a binary value: "0x"/"0X" followed by hex digits (an
// odd count is padded on the left with a zero) or "0b"/"0B" followed by
// base64 (RFC 7143 §6.1). The result is at most MaxBinaryLen bytes.
func DecodeBinary(v []byte) ([]byte, error) {
	if len(v) < 3 || v[0] != '0' {
		return nil, ErrBadBinary
	}
	d := v[2:]
	switch v[1] {
	case 'x', 'X':
		if (len(d)+1)/2 > MaxBinaryLen {
			return nil, ErrBadBinary
		}
		out := make([]byte, (len(d)+1)/2)
		i, j := 0, 0
		if len(d)%2 == 1 {
			h, ok := hexDigit(d[0])
			if !ok {
				return nil, ErrBadBinary
			}
			out[0] = h
			i, j = 1, 1
		}
		for ; i < len(d); i += 2 {
			hi, ok1 := hexDigit(d[i])
			lo, ok2 := hexDigit(d[i+1])
			if !ok1 || !ok2 {
				return nil, ErrBadBinary
			}
			out[j] = hi<<4 | lo
			j++
		}
		return out, nil
	case 'b', 'B':
		if base64.StdEncoding.DecodedLen(len(d)) > MaxBinaryLen+2 {
			return nil, ErrBadBinary
		}
		out, err := base64.StdEncoding.DecodeString(string(d))
		if err != nil || len(out) == 0 || len(out) > MaxBinaryLen {
			return nil, ErrBadBinary
		}
		return out, nil
	}
	return nil, ErrBadBinary
}

// appendHexValue appends "0x" and the lowercase hex of b.
func appendHexValue(dst, b []byte) []byte {
	dst = append(dst, '0', 'x')
	return hex.AppendEncode(dst, b)
}

// listContains reports whether the comma-separated list v contains item.
func listContains(v []byte, item string) bool {
	for len(v) > 0 {
		var e []byte
		e, v = nextListItem(v)
		if string(e) == item {
			return true
		}
	}
	return false
}

func nextListItem(v []byte) (item, rest []byte) {
	for i, c := range v {
		if c == ',' {
			return v[:i], v[i+1:]
		}
	}
	return v, nil
}
