package scsi

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
)

// Target is a SCSI target device: a set of logical units addressed by LUN.
// Execute is safe for concurrent use.
type Target struct {
	log *slog.Logger
	mu  sync.Mutex                     // serializes LU set changes
	lus atomic.Pointer[map[uint64]*lu] // copy-on-write snapshot

	abortFunc func(lun uint64, n Nexus) // guarded by mu

	alua atomic.Pointer[aluaState] // target port groups; replaced under mu
}

// NewTarget returns an empty target device.
func NewTarget(log *slog.Logger) *Target {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Target{log: log}
	t.alua.Store(defaultALUA())
	m := map[uint64]*lu{}
	t.lus.Store(&m)
	return t
}

// lookup returns the logical unit numbered lun, or nil.
func (t *Target) lookup(lun uint64) *lu {
	return (*t.lus.Load())[lun]
}

// AddLU creates logical unit lun. Every I_T nexus that later addresses it
// first receives a POWER ON, RESET, OR BUS DEVICE RESET OCCURRED unit
// attention; nexuses known to other logical units get REPORTED LUNS DATA HAS
// CHANGED.
func (t *Target) AddLU(lun uint64, cfg LUConfig) error {
	if lun > MaxLUN {
		return fmt.Errorf("add lu %d: %w: lun above %d", lun, ErrBadLUConfig, MaxLUN)
	}
	l, err := newLU(lun, cfg)
	if err != nil {
		return fmt.Errorf("add lu %d: %w", lun, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.lus.Load()
	if _, ok := old[lun]; ok {
		return fmt.Errorf("add lu %d: %w", lun, ErrLUNExists)
	}
	m := make(map[uint64]*lu, len(old)+1)
	for k, v := range old {
		m[k] = v
		v.establishAll(ASCReportedLUNsDataChanged, Nexus{}, false)
	}
	l.pr.abortFunc = t.abortFunc
	m[lun] = l
	t.lus.Store(&m)
	t.log.Info("logical unit added", "lun", lun, "blocks", l.nblocks.Load(), "block_size", l.bs)
	return nil
}

// RemoveLU removes logical unit lun (without closing its backend) and
// raises REPORTED LUNS DATA HAS CHANGED on the remaining ones.
func (t *Target) RemoveLU(lun uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.lus.Load()
	if _, ok := old[lun]; !ok {
		return fmt.Errorf("remove lu %d: %w", lun, ErrNoLUN)
	}
	m := make(map[uint64]*lu, len(old))
	for k, v := range old {
		if k != lun {
			m[k] = v
			v.establishAll(ASCReportedLUNsDataChanged, Nexus{}, false)
		}
	}
	t.lus.Store(&m)
	t.log.Info("logical unit removed", "lun", lun)
	return nil
}

// LUNs returns the configured LUNs in ascending order.
func (t *Target) LUNs() []uint64 {
	m := *t.lus.Load()
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Resize re-reads the backend size of lun. When the capacity changed, every
// known I_T nexus gets CAPACITY DATA HAS CHANGED.
func (t *Target) Resize(lun uint64) error {
	l := t.lookup(lun)
	if l == nil {
		return fmt.Errorf("resize lu %d: %w", lun, ErrNoLUN)
	}
	n := uint64(l.be.Size()) >> l.shift
	if l.nblocks.Swap(n) != n {
		l.establishAll(ASCCapacityDataChanged, Nexus{}, false)
		t.log.Info("logical unit resized", "lun", lun, "blocks", n)
	}
	return nil
}

// Reset performs a LOGICAL UNIT RESET (of lun) or a target warm or cold
// reset requested over nexus from, and establishes the unit attentions SAM-5
// requires: BUS DEVICE RESET FUNCTION OCCURRED for every nexus (the requester's
// too: all I_T nexuses of the logical unit saw the reset, and multipath
// initiators check for it on each path) after a LUN or warm reset, POWER ON
// OCCURRED for every nexus after a cold reset.
func (t *Target) Reset(kind ResetKind, lun uint64, from Nexus) {
	switch kind {
	case LUNReset:
		if l := t.lookup(lun); l != nil {
			// Persistent reservations survive; an SPC-2 reservation does not.
			l.pr.releaseLegacy(Nexus{}, true)
			l.reset(false)
			l.establishAll(ASCBusDeviceResetOccurred, from, false)
		}
	case TargetWarmReset:
		for _, l := range *t.lus.Load() {
			l.pr.releaseLegacy(Nexus{}, true)
			l.reset(false)
			l.establishAll(ASCBusDeviceResetOccurred, from, false)
		}
	case TargetColdReset:
		for _, l := range *t.lus.Load() {
			l.pr.releaseLegacy(Nexus{}, true)
			l.reset(true)
			l.establishAll(ASCPowerOnOccurred, Nexus{}, false)
		}
	}
}

// ClearTaskSet records a CLEAR TASK SET from nexus from on lun: the other
// nexuses get COMMANDS CLEARED BY ANOTHER INITIATOR (SPC-4, TST=000b).
func (t *Target) ClearTaskSet(lun uint64, from Nexus) {
	if l := t.lookup(lun); l != nil {
		l.establishAll(ASCCommandsClearedByAnother, from, true)
	}
}

// NexusLoss drops all per-nexus state of n (pending unit attentions) and
// releases an SPC-2 reservation it holds. Persistent reservations and
// registrations survive I_T nexus loss (SPC-4 §5.9.2).
func (t *Target) NexusLoss(n Nexus) {
	for _, l := range *t.lus.Load() {
		l.pr.releaseLegacy(n, false)
		l.dropNexus(n)
	}
}

// SetPreemptAbortFunc installs the callback PERSISTENT RESERVE OUT with
// PREEMPT AND ABORT uses to abort the tasks of each preempted I_T nexus on
// lun (SPC-4 §5.9.11.5). It is called after the preempting command's state
// change, from the goroutine executing that command, so it must not wait
// for that command to complete.
func (t *Target) SetPreemptAbortFunc(fn func(lun uint64, n Nexus)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.abortFunc = fn
	for _, l := range *t.lus.Load() {
		l.pr.mu.Lock()
		l.pr.abortFunc = fn
		l.pr.mu.Unlock()
	}
}

// Close flushes and closes every backend and removes all logical units.
func (t *Target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for k, l := range *t.lus.Load() {
		if err := l.be.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("flush lu %d: %w", k, err))
		}
		if err := l.be.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close lu %d: %w", k, err))
		}
	}
	m := map[uint64]*lu{}
	t.lus.Store(&m)
	return errors.Join(errs...)
}

// deriveSerial makes a stable serial number from the LU identity.
func deriveSerial(lun uint64, cfg *LUConfig) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%s/%d", cfg.VendorID, cfg.ProductID, lun)
	return fmt.Sprintf("%016x", h.Sum64())
}
