package scsi

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AccessState is the asymmetric access state of a target port group
// (SPC-4 §5.16.2.4), numbered as in REPORT TARGET PORT GROUPS.
type AccessState uint8

// Asymmetric access states.
const (
	ActiveOptimized    AccessState = 0x0
	ActiveNonOptimized AccessState = 0x1
	Standby            AccessState = 0x2
	Unavailable        AccessState = 0x3
	Transitioning      AccessState = 0xF
)

var accessStateNames = []struct {
	s    AccessState
	name string
}{
	{ActiveOptimized, "active-optimized"},
	{ActiveNonOptimized, "active-non-optimized"},
	{Standby, "standby"},
	{Unavailable, "unavailable"},
	{Transitioning, "transitioning"},
}

// String returns the configuration name of s ("active-optimized", ...).
func (s AccessState) String() string {
	for _, n := range accessStateNames {
		if n.s == s {
			return n.name
		}
	}
	return fmt.Sprintf("access-state-%#x", uint8(s))
}

// ParseAccessState parses a name returned by AccessState.String.
func ParseAccessState(name string) (AccessState, error) {
	for _, n := range accessStateNames {
		if strings.EqualFold(n.name, name) {
			return n.s, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown access state %q", ErrBadPortGroup, name)
}

func (s AccessState) valid() bool {
	return s <= Unavailable || s == Transitioning
}

// active reports whether s serves every command.
func (s AccessState) active() bool { return s == ActiveOptimized || s == ActiveNonOptimized }

// PortGroup is one target port group. In iSCSI a SCSI target port is the
// target node name plus a target portal group tag (RFC 7143 §4.4.1), so each
// group holds exactly one target port, and the device server numbers both
// from the tag: TARGET PORT GROUP = RELATIVE TARGET PORT IDENTIFIER = Tag
// (a Nexus whose TPGT is 0 is on port 1; see portTag).
type PortGroup struct {
	Tag   uint16
	State AccessState
}

// ErrBadPortGroup reports an invalid target port group configuration.
var ErrBadPortGroup = errors.New("bad target port group")

// Status codes of a target port group descriptor (SPC-4 §6.27).
const (
	tpgStatusNone     = 0x00
	tpgStatusExplicit = 0x01 // altered by SET TARGET PORT GROUPS
	tpgStatusImplicit = 0x02 // altered by implicit behaviour (Target.SetPortGroupState)
)

// portGroup is the device server's copy of a group.
type portGroup struct {
	PortGroup
	status byte
}

// aluaState is an immutable snapshot of the target port groups.
type aluaState struct {
	groups    []portGroup // sorted by tag
	allActive bool        // no group gates commands
}

func (a *aluaState) find(tag uint16) *portGroup {
	for i := range a.groups {
		if a.groups[i].Tag == tag {
			return &a.groups[i]
		}
	}
	return nil
}

// portTag is the tag of the target port of n: its TPGT, or 1 for a fabric
// that does not set one.
func portTag(n *Nexus) uint16 {
	if n.TPGT == 0 {
		return 1
	}
	return n.TPGT
}

func newALUAState(groups []portGroup) *aluaState {
	a := &aluaState{groups: groups, allActive: true}
	slices.SortFunc(a.groups, func(x, y portGroup) int { return int(x.Tag) - int(y.Tag) })
	for _, g := range a.groups {
		if !g.State.active() {
			a.allActive = false
		}
	}
	return a
}

// defaultALUA is one active/optimized group, tag 1.
func defaultALUA() *aluaState {
	return newALUAState([]portGroup{{PortGroup: PortGroup{Tag: 1, State: ActiveOptimized}}})
}

// SetPortGroups replaces the target port groups. Tags must be unique and
// non-zero. Every I_T nexus gets ASYMMETRIC ACCESS STATE CHANGED when the
// state of a group that existed before changes. A nexus whose port is in no
// group is served as active/optimized and reported as a group of its own.
func (t *Target) SetPortGroups(groups []PortGroup) error {
	seen := map[uint16]bool{}
	pgs := make([]portGroup, 0, len(groups))
	for _, g := range groups {
		if g.Tag == 0 || seen[g.Tag] || !g.State.valid() {
			return fmt.Errorf("set port groups: %w: tag %d state %v", ErrBadPortGroup, g.Tag, g.State)
		}
		seen[g.Tag] = true
		pgs = append(pgs, portGroup{PortGroup: g})
	}
	if len(pgs) == 0 {
		return fmt.Errorf("set port groups: %w: none", ErrBadPortGroup)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.alua.Load()
	changed := false
	for i := range pgs {
		if o := old.find(pgs[i].Tag); o != nil && o.State != pgs[i].State {
			pgs[i].status = tpgStatusImplicit
			changed = true
		}
	}
	t.alua.Store(newALUAState(pgs))
	if changed {
		t.stateChanged(Nexus{}, false)
	}
	return nil
}

// SetPortGroupState changes the asymmetric access state of group tag (an
// implicit transition) and raises ASYMMETRIC ACCESS STATE CHANGED on every
// I_T nexus.
func (t *Target) SetPortGroupState(tag uint16, s AccessState) error {
	if !s.valid() {
		return fmt.Errorf("set port group %d: %w: state %#x", tag, ErrBadPortGroup, uint8(s))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.setStatesLocked(map[uint16]AccessState{tag: s}, tpgStatusImplicit, Nexus{}, false)
}

// setStatesLocked applies new states to existing groups; called with t.mu held.
func (t *Target) setStatesLocked(states map[uint16]AccessState, status byte, from Nexus, skipFrom bool) error {
	old := t.alua.Load()
	pgs := slices.Clone(old.groups)
	changed := false
	for tag, s := range states {
		i := slices.IndexFunc(pgs, func(g portGroup) bool { return g.Tag == tag })
		if i < 0 {
			return fmt.Errorf("set port group %d: %w: no such group", tag, ErrBadPortGroup)
		}
		if pgs[i].State != s {
			pgs[i].State = s
			pgs[i].status = status
			changed = true
		}
	}
	if !changed {
		return nil
	}
	t.alua.Store(newALUAState(pgs))
	t.stateChanged(from, skipFrom)
	return nil
}

// stateChanged establishes ASYMMETRIC ACCESS STATE CHANGED on every nexus of
// every logical unit (except from when skipFrom).
func (t *Target) stateChanged(from Nexus, skipFrom bool) {
	for _, l := range *t.lus.Load() {
		l.establishAll(ASCAsymmetricAccessChanged, from, skipFrom)
	}
	t.log.Info("asymmetric access states changed", "groups", t.PortGroups())
}

// PortGroups returns the target port groups sorted by tag.
func (t *Target) PortGroups() []PortGroup {
	a := t.alua.Load()
	out := make([]PortGroup, len(a.groups))
	for i, g := range a.groups {
		out[i] = g.PortGroup
	}
	return out
}

// accessState returns the state of the group of n's target port.
func (a *aluaState) accessState(n *Nexus) AccessState {
	if g := a.find(portTag(n)); g != nil {
		return g.State
	}
	return ActiveOptimized
}

// aluaGate fails c with the sense SPC-4 §5.16.2.4 prescribes when the access
// state of its target port does not allow it; it reports whether c may run.
func (t *Target) aluaGate(l *lu, c *Command) bool {
	a := t.alua.Load()
	if a.allActive {
		return true
	}
	s := a.accessState(&c.Nexus)
	if s.active() || aluaAllowed(s, c.CDB) {
		return true
	}
	var asc ASC
	switch s {
	case Standby:
		asc = ASCLUNotAccessibleStandby
	case Unavailable:
		asc = ASCLUNotAccessibleUnavailable
	default:
		asc = ASCLUNotAccessibleTransition
	}
	c.check(l.desc(), KeyNotReady, asc)
	return false
}

// aluaAllowed reports whether the command in cdb runs in the inactive state
// s: the commands SPC-4 §5.16.2.4.4-6 list for each state that this device
// server implements (INQUIRY, REPORT LUNS and REQUEST SENSE run in every
// state; REPORT SUPPORTED OPERATION CODES too, as it describes the device,
// not the medium).
func aluaAllowed(s AccessState, cdb []byte) bool {
	switch cdb[0] {
	case opInquiry, opReportLUNs, opRequestSense:
		return true
	case opMaintenanceIn:
		sa := cdb[1] & 0x1F
		return sa == saReportTPG || sa == saReportOpcodes
	case opMaintenanceOut:
		return cdb[1]&0x1F == saSetTPG && s != Transitioning
	case opModeSense6, opModeSense10, opModeSelect6, opModeSelect10, opPRIn, opPROut:
		return s == Standby
	}
	return false
}
