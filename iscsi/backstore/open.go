package backstore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xtgt/xtgt/iscsi/scsi"
)

// unmapUnsupported wraps a kernel error so it also matches
// scsi.ErrUnmapUnsupported.
type unmapUnsupported struct{ err error }

func (e unmapUnsupported) Error() string {
	return scsi.ErrUnmapUnsupported.Error() + ": " + e.err.Error()
}
func (e unmapUnsupported) Unwrap() []error { return []error{scsi.ErrUnmapUnsupported, e.err} }
func errUnmapUnsupported(err error) error  { return unmapUnsupported{err} }

// ErrBadSpec is returned by Open and ParseSize for malformed specs.
var ErrBadSpec = errors.New("bad backing store spec")

// ParseSize parses a byte count with an optional binary K/M/G/T suffix
// (also accepted as KiB/KB...), e.g. "512", "4K", "1G".
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	shift := 0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift != 0 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%w: size %q", ErrBadSpec, s)
	}
	if v > (1<<62)>>shift {
		return 0, fmt.Errorf("%w: size %q too large", ErrBadSpec, s)
	}
	return v << shift, nil
}

// Open opens a backing store from a spec: "ram:SIZE", "file:PATH[:SIZE]" or
// "block:PATH". A spec ending in ",ro" opens files and devices read-only.
func Open(spec string) (scsi.Backend, error) {
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w %q: want ram:SIZE, file:PATH[:SIZE] or block:PATH", ErrBadSpec, spec)
	}
	ro := false
	if r, found := strings.CutSuffix(rest, ",ro"); found {
		rest, ro = r, true
	}
	switch kind {
	case "ram":
		size, err := ParseSize(rest)
		if err != nil {
			return nil, err
		}
		return NewRAM(size)
	case "file":
		path, size := rest, int64(0)
		if i := strings.LastIndexByte(rest, ':'); i >= 0 {
			s, err := ParseSize(rest[i+1:])
			if err != nil {
				return nil, err
			}
			path, size = rest[:i], s
		}
		if path == "" {
			return nil, fmt.Errorf("%w %q: empty path", ErrBadSpec, spec)
		}
		return OpenFile(path, size, FileOptions{ReadOnly: ro})
	case "block":
		return OpenBlock(rest, ro)
	}
	return nil, fmt.Errorf("%w %q: unknown kind %q", ErrBadSpec, spec, kind)
}

var (
	_ scsi.Backend     = (*RAM)(nil)
	_ scsi.Mapper      = (*RAM)(nil)
	_ scsi.Backend     = (*File)(nil)
	_ scsi.Mapper      = (*File)(nil)
	_ scsi.Backend     = (*Block)(nil)
	_ scsi.Provisioner = (*RAM)(nil)
	_ scsi.Provisioner = (*File)(nil)
	_ scsi.Provisioner = (*Block)(nil)
	_ scsi.Mapper      = (*Block)(nil)
)
