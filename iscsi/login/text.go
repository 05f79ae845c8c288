package login

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// Limits on text keys and values (RFC 7143 §6.1, §13).
const (
	MaxKeyLen        = 63   // key names
	MaxValueLen      = 255  // ordinary values
	MaxLargeValueLen = 8192 // CHAP_C, CHAP_R and other binary values
)

// Sentinel errors for malformed text.
var (
	ErrMissingEquals = errors.New("login: key without '='")
	ErrEmptyKey      = errors.New("login: empty key name")
	ErrKeyTooLong    = errors.New("login: key name longer than 63 bytes")
	ErrBadKeyChar    = errors.New("login: invalid character in key name")
	ErrValueTooLong  = errors.New("login: value too long")
	ErrInvalidUTF8   = errors.New("login: value is not valid UTF-8")
	ErrDuplicateKey  = errors.New("login: key sent more than once")
)

// KV is one decoded key=value pair.
type KV struct{ Key, Value string }

// TextIter iterates over the key=value pairs of a text data segment without
// allocating. Empty entries (runs of NUL, padding) are skipped; a final pair
// without its terminating NUL is accepted.
//
//	for it := NewTextIter(b); it.Next(); { use(it.Key(), it.Value()) }
//	if it.Err() != nil { ... }
type TextIter struct {
	b          []byte
	key, value []byte
	err        error
}

// NewTextIter returns an iterator over b.
func NewTextIter(b []byte) TextIter { return TextIter{b: b} }

// Next advances to the next pair. It returns false at the end or on a syntax
// error (see Err).
func (it *TextIter) Next() bool {
	if it.err != nil {
		return false
	}
	for len(it.b) > 0 && it.b[0] == 0 {
		it.b = it.b[1:]
	}
	if len(it.b) == 0 {
		it.key, it.value = nil, nil
		return false
	}
	pair := it.b
	if i := bytes.IndexByte(it.b, 0); i >= 0 {
		pair, it.b = it.b[:i], it.b[i+1:]
	} else {
		it.b = nil
	}
	eq := bytes.IndexByte(pair, '=')
	if eq < 0 {
		it.err = ErrMissingEquals
		it.key, it.value = nil, nil
		return false
	}
	it.key, it.value = pair[:eq], pair[eq+1:]
	return true
}

// Key is the current key.
func (it *TextIter) Key() []byte { return it.key }

// Value is the current value.
func (it *TextIter) Value() []byte { return it.value }

// Err reports the syntax error that stopped iteration, if any.
func (it *TextIter) Err() error { return it.err }

// AppendKV appends "key=value\x00" to dst.
func AppendKV(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, '=')
	dst = append(dst, value...)
	return append(dst, 0)
}

func appendKVBytes(dst []byte, key string, value []byte) []byte {
	dst = append(dst, key...)
	dst = append(dst, '=')
	dst = append(dst, value...)
	return append(dst, 0)
}

// maxValueLen returns the value length limit for key.
func maxValueLen(key []byte) int {
	if bytes.HasPrefix(key, []byte("CHAP_")) {
		return MaxLargeValueLen
	}
	return MaxValueLen
}

// CheckKV validates one pair: key name syntax and length (RFC 7143 §6.1:
// letters, digits, '.', '-', '+', '@', '_'), value length and UTF-8.
func CheckKV(key, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return checkValue(key, value)
}

func checkKey(key []byte) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > MaxKeyLen {
		return ErrKeyTooLong
	}
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '-', c == '+', c == '@', c == '_', c == '#':
			// '#' appears in the X#name extension form.
		default:
			return ErrBadKeyChar
		}
	}
	return nil
}

func checkValue(key, value []byte) error {
	if len(value) > maxValueLen(key) {
		return ErrValueTooLong
	}
	if !utf8.Valid(value) {
		return ErrInvalidUTF8
	}
	return nil
}

// ParseText decodes and validates a whole text data segment. Duplicate keys
// are an error (ErrDuplicateKey).
func ParseText(b []byte) ([]KV, error) {
	var out []KV
	it := NewTextIter(b)
	for it.Next() {
		if err := CheckKV(it.Key(), it.Value()); err != nil {
			return nil, err
		}
		for i := range out {
			if out[i].Key == string(it.Key()) {
				return nil, ErrDuplicateKey
			}
		}
		out = append(out, KV{Key: string(it.Key()), Value: string(it.Value())})
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
