package scsi

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Persistent reservation types (SPC-4 §6.16.3.4).
const (
	prWriteExclusive   = 1
	prExclusiveAccess  = 3
	prWriteExclusiveRO = 5
	prExclusiveRO      = 6
	prWriteExclusiveAR = 7
	prExclusiveAR      = 8
)

func validPRType(t byte) bool {
	switch t {
	case prWriteExclusive, prExclusiveAccess, prWriteExclusiveRO, prExclusiveRO, prWriteExclusiveAR, prExclusiveAR:
		return true
	}
	return false
}

func allRegistrants(t byte) bool { return t == prWriteExclusiveAR || t == prExclusiveAR }

func registrantsOnly(t byte) bool { return t == prWriteExclusiveRO || t == prExclusiveRO }

// prReg is one registration. An I_T nexus is the initiator port
// (InitiatorName + ISID) and the target port (TargetName + TPGT).
// allTgPt registers the initiator port through every target port; anyISID
// (SPEC_I_PT with a TransportID naming no ISID) every initiator port of
// the initiator.
type prReg struct {
	n       Nexus
	key     uint64
	allTgPt bool
	anyISID bool
}

// matches reports whether the registration covers nexus n. Initiator names
// compare case-insensitively (iSCSI names are normalized to lower case).
func (r *prReg) matches(n Nexus) bool {
	if !strings.EqualFold(r.n.InitiatorName, n.InitiatorName) {
		return false
	}
	if !r.anyISID && r.n.ISID != n.ISID {
		return false
	}
	return r.allTgPt || r.n.TargetName == n.TargetName && r.n.TPGT == n.TPGT
}

// prState is the persistent reservation and legacy (SPC-2) reservation
// state of one logical unit. Lock order: prState.mu before lu.mu.
type prState struct {
	mu     sync.Mutex
	gen    uint32
	regs   []prReg
	typ    byte  // reservation type; 0 = not reserved
	holder Nexus // for types other than all registrants: the holder's registration nexus
	aptpl  bool
	file   string // APTPL state file; "" = not supported

	legacy    bool  // SPC-2 RESERVE held
	legacyBy  Nexus // by this nexus
	reserved  atomic.Bool
	abortFunc func(lun uint64, n Nexus)
}

// update recomputes the fast-path flag. Caller holds mu.
func (p *prState) update() {
	p.reserved.Store(p.typ != 0 || p.legacy)
}

// find returns the index of the registration covering n, or -1.
func (p *prState) find(n Nexus) int {
	for i := range p.regs {
		if p.regs[i].matches(n) {
			return i
		}
	}
	return -1
}

// isHolder reports whether n holds the persistent reservation.
func (p *prState) isHolder(n Nexus) bool {
	if p.typ == 0 {
		return false
	}
	i := p.find(n)
	if i < 0 {
		return false
	}
	if allRegistrants(p.typ) {
		return true
	}
	return p.regs[i].n == p.holder
}

// holderKey is the reservation key READ RESERVATION reports.
func (p *prState) holderKey() uint64 {
	if p.typ == 0 || allRegistrants(p.typ) {
		return 0
	}
	for i := range p.regs {
		if p.regs[i].n == p.holder {
			return p.regs[i].key
		}
	}
	return 0
}

// remove deletes registration i; a reservation held through it is
// released (for all-registrants types, when the last registration goes).
// It reports whether the reservation was released.
func (p *prState) remove(i int) bool {
	r := p.regs[i]
	p.regs = append(p.regs[:i], p.regs[i+1:]...)
	if p.typ == 0 {
		return false
	}
	if allRegistrants(p.typ) {
		if len(p.regs) == 0 {
			p.typ = 0
			return true
		}
		return false
	}
	if r.n == p.holder {
		p.typ = 0
		p.holder = Nexus{}
		return true
	}
	return false
}

// snapshot copies the state for rollback.
type prSnapshot struct {
	gen    uint32
	regs   []prReg
	typ    byte
	holder Nexus
	aptpl  bool
}

func (p *prState) snapshot() prSnapshot {
	return prSnapshot{gen: p.gen, regs: append([]prReg(nil), p.regs...), typ: p.typ, holder: p.holder, aptpl: p.aptpl}
}

func (p *prState) restore(s prSnapshot) {
	p.gen, p.regs, p.typ, p.holder, p.aptpl = s.gen, s.regs, s.typ, s.holder, s.aptpl
	p.update()
}

// Conflict classes of commands under a persistent reservation held by
// another I_T nexus (SPC-4 table 62, SBC-3 table 13).
const (
	accWrite   = iota // conflict for WE/EA; RR types: registrants only
	accRead           // allowed under WE types, conflict under EA types for non-registrants
	accAllowed        // never conflicts
	accSelf           // the command applies reservation rules itself
)

var accessClass [256]uint8

// legacyAllowed lists the commands another I_T nexus may run while an
// SPC-2 reservation is held (SPC-2 §5.5.1).
var legacyAllowed [256]bool

func init() {
	for _, op := range []byte{opRead6, opRead10, opRead12, opRead16, opVerify10, opVerify12, opVerify16,
		opPreFetch10, opPreFetch16, opReadDefectData10, opReadDefectData12} {
		accessClass[op] = accRead
	}
	for _, op := range []byte{opTestUnitReady, opRequestSense, opInquiry, opReportLUNs, opReadCapacity10,
		opMaintenanceIn, opPRIn, opStartStopUnit} {
		accessClass[op] = accAllowed
	}
	for _, op := range []byte{opPROut, opReserve6, opRelease6, opReserve10, opRelease10} {
		accessClass[op] = accSelf
	}
	for _, op := range []byte{opInquiry, opRequestSense, opReportLUNs, opRelease6, opRelease10, opMaintenanceIn} {
		legacyAllowed[op] = true
	}
}

// classOf refines the table for service-action and flag-dependent opcodes.
func classOf(cdb []byte) uint8 {
	switch cdb[0] {
	case opServiceActionIn16:
		switch cdb[1] & 0x1F {
		case saReadCapacity16:
			return accAllowed
		case saGetLBAStatus:
			return accRead
		}
		return accWrite
	case opPreventAllow:
		if cdb[4]&0x03 == 0 {
			return accAllowed
		}
		return accWrite
	}
	return accessClass[cdb[0]]
}

// conflicts reports whether c must end in RESERVATION CONFLICT. It is
// called only when a reservation may exist (p.reserved).
func (p *prState) conflicts(c *Command) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	op := c.CDB[0]
	if p.legacy {
		if p.legacyBy == c.Nexus {
			return false
		}
		return !legacyAllowed[op]
	}
	if p.typ == 0 {
		return false
	}
	cls := classOf(c.CDB)
	if cls == accAllowed || cls == accSelf {
		return false
	}
	if p.isHolder(c.Nexus) {
		return false
	}
	registered := p.find(c.Nexus) >= 0
	switch p.typ {
	case prWriteExclusive:
		return cls == accWrite
	case prExclusiveAccess:
		return true
	case prWriteExclusiveRO, prWriteExclusiveAR:
		return cls == accWrite && !registered
	default: // EARO, EAAR
		return !registered
	}
}

// uaForRegs establishes unit attention a for every known I_T nexus covered
// by a registration in regs, except the nexus from.
func (l *lu) uaForRegs(regs []prReg, a ASC, from Nexus) {
	if len(regs) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, st := range l.its {
		if n == from {
			continue
		}
		for i := range regs {
			if regs[i].matches(n) {
				st.add(a)
				break
			}
		}
	}
}

// releaseLegacy drops an SPC-2 reservation (held by n, or by anyone when
// all is set).
func (p *prState) releaseLegacy(n Nexus, all bool) {
	p.mu.Lock()
	if p.legacy && (all || p.legacyBy == n) {
		p.legacy = false
		p.legacyBy = Nexus{}
		p.update()
	}
	p.mu.Unlock()
}
