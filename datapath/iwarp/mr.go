package iwarp

import (
	"fmt"
	"sync/atomic"

	"github.com/xtgt/xtgt/datapath/verbs"
)

// MR is a registered memory region. Its STag is index<<8 | key (RFC 5040 §2.2: 24-bit index, 8-bit key).
type MR struct {
	pd     *PD
	buf    []byte
	base   uint64
	access verbs.Access
	idx    uint32
	stag   atomic.Uint32
	valid  atomic.Bool
}

func (m *MR) LKey() uint32         { return m.stag.Load() }
func (m *MR) RKey() uint32         { return m.stag.Load() }
func (m *MR) Addr() uint64         { return m.base }
func (m *MR) Len() int             { return len(m.buf) }
func (m *MR) Buf() []byte          { return m.buf }
func (m *MR) Access() verbs.Access { return m.access }
func (m *MR) Valid() bool          { return m.valid.Load() }

func (m *MR) Revalidate(key uint8) (uint32, error) {
	if m.valid.Load() {
		return 0, fmt.Errorf("revalidate stag %#x: %w", m.stag.Load(), verbs.ErrInvalidState)
	}
	s := m.idx<<8 | uint32(key)
	m.stag.Store(s)
	m.valid.Store(true)
	return s, nil
}

func (m *MR) Dereg() error {
	m.valid.Store(false)
	m.pd.dev.dropMR(m.idx)
	return nil
}

// offset maps tagged offset to and length n into buf; ok is false on wrap or outside the region.
func (m *MR) offset(to uint64, n int) (off int, wrap, ok bool) {
	if to+uint64(n) < to {
		return 0, true, false
	}
	if to < m.base {
		return 0, false, false
	}
	o := to - m.base
	if o > uint64(len(m.buf)) || uint64(n) > uint64(len(m.buf))-o {
		return 0, false, false
	}
	return int(o), false, true
}

// lookupMR finds the valid region whose current STag is stag.
func (d *Device) lookupMR(stag uint32) *MR {
	t := d.mrs.Load()
	i := stag >> 8
	if t == nil || int(i) >= len(*t) {
		return nil
	}
	m := (*t)[i]
	if m == nil || !m.valid.Load() || m.stag.Load() != stag {
		return nil
	}
	return m
}

// lookupAnyMR finds the region by STag even when invalidated (for local invalidate).
func (d *Device) lookupAnyMR(stag uint32) *MR {
	t := d.mrs.Load()
	i := stag >> 8
	if t == nil || int(i) >= len(*t) {
		return nil
	}
	m := (*t)[i]
	if m == nil || m.stag.Load() != stag {
		return nil
	}
	return m
}

func (d *Device) addMR(m *MR) error {
	d.mrMu.Lock()
	defer d.mrMu.Unlock()
	old := d.mrs.Load()
	var t []*MR
	if old != nil {
		t = *old
	}
	idx := -1
	for i := 1; i < len(t); i++ { // index 0 is reserved so STag 0 (used by RTR) never names a region
		if t[i] == nil {
			idx = i
			break
		}
	}
	nt := make([]*MR, max(len(t), 1), max(len(t), 1)+1)
	copy(nt, t)
	if idx < 0 {
		if len(nt) >= 1<<24 {
			return fmt.Errorf("register: %w", verbs.ErrQueueFull)
		}
		idx = len(nt)
		nt = append(nt, nil)
	}
	d.keySeq++
	m.idx = uint32(idx)
	m.stag.Store(uint32(idx)<<8 | uint32(d.keySeq&0xff))
	m.valid.Store(true)
	nt[idx] = m
	d.mrs.Store(&nt)
	return nil
}

func (d *Device) dropMR(idx uint32) {
	d.mrMu.Lock()
	defer d.mrMu.Unlock()
	old := d.mrs.Load()
	if old == nil || int(idx) >= len(*old) {
		return
	}
	nt := append([]*MR(nil), *old...)
	nt[idx] = nil
	d.mrs.Store(&nt)
}
