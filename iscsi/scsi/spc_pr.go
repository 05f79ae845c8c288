package scsi

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// PERSISTENT RESERVE IN service actions.
const (
	prinReadKeys        = 0
	prinReadReservation = 1
	prinReportCaps      = 2
	prinReadFullStatus  = 3
)

// PERSISTENT RESERVE OUT service actions.
const (
	proutRegister       = 0
	proutReserve        = 1
	proutRelease        = 2
	proutClear          = 3
	proutPreempt        = 4
	proutPreemptAbort   = 5
	proutRegisterIgnore = 6
	proutRegisterMove   = 7
)

const iscsiProtocolID = 5

// runPRIn implements PERSISTENT RESERVE IN (SPC-4 §6.15).
func runPRIn(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	alloc := int(binary.BigEndian.Uint16(cdb[7:9]))
	p := &l.pr
	p.mu.Lock()
	var b []byte
	switch cdb[1] & 0x1F {
	case prinReadKeys:
		b = make([]byte, 8, 8+8*len(p.regs))
		binary.BigEndian.PutUint32(b[0:4], p.gen)
		for _, r := range p.regs {
			b = binary.BigEndian.AppendUint64(b, r.key)
		}
		binary.BigEndian.PutUint32(b[4:8], uint32(len(b)-8))
	case prinReadReservation:
		b = make([]byte, 8, 24)
		binary.BigEndian.PutUint32(b[0:4], p.gen)
		if p.typ != 0 {
			var d [16]byte
			binary.BigEndian.PutUint64(d[0:8], p.holderKey())
			d[13] = p.typ // SCOPE 0 (LU_SCOPE)
			b = append(b, d[:]...)
		}
		binary.BigEndian.PutUint32(b[4:8], uint32(len(b)-8))
	case prinReportCaps:
		b = make([]byte, 8)
		binary.BigEndian.PutUint16(b[0:2], 8)
		b[2] = 0x10 | 0x08 | 0x04 // CRH, SIP_C, ATP_C
		if p.file != "" {
			b[2] |= 0x01 // PTPL_C
		}
		b[3] = 0x80 | 0x10 // TMV, ALLOW COMMANDS 001b
		if p.aptpl {
			b[3] |= 0x01 // PTPL_A
		}
		b[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02 // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
		b[5] = 0x01                             // EX_AC_AR
	case prinReadFullStatus:
		b = make([]byte, 8, 8+64*len(p.regs))
		binary.BigEndian.PutUint32(b[0:4], p.gen)
		for i := range p.regs {
			r := &p.regs[i]
			var d [24]byte
			binary.BigEndian.PutUint64(d[0:8], r.key)
			if r.allTgPt {
				d[12] |= 0x02
			}
			if p.typ != 0 && (allRegistrants(p.typ) || r.n == p.holder) {
				d[12] |= 0x01 // R_HOLDER
				d[13] = p.typ
			}
			binary.BigEndian.PutUint16(d[18:20], portTag(&r.n)) // RELATIVE TARGET PORT IDENTIFIER
			tid := transportID(r)
			binary.BigEndian.PutUint32(d[20:24], uint32(len(tid)))
			b = append(append(b, d[:]...), tid...)
		}
		binary.BigEndian.PutUint32(b[4:8], uint32(len(b)-8))
	default:
		p.mu.Unlock()
		c.invalidCDB(desc, 1, 4)
		return
	}
	p.mu.Unlock()
	c.putIn(b, alloc)
}

// transportID encodes the iSCSI TransportID of a registration (SPC-4
// §7.6.4.6): format 01b "name,i,0x<ISID>" or, for an any-ISID
// registration, format 00b "name".
func transportID(r *prReg) []byte {
	s := r.n.InitiatorName
	format := byte(0x40)
	if r.anyISID {
		format = 0
	} else {
		s += fmt.Sprintf(",i,0x%012x", r.n.ISID)
	}
	n := (len(s) + 1 + 3) &^ 3
	b := make([]byte, 4+n)
	b[0] = format | iscsiProtocolID
	binary.BigEndian.PutUint16(b[2:4], uint16(n))
	copy(b[4:], s)
	return b
}

// parseTransportID decodes one iSCSI TransportID at the start of b and
// returns it as a registration template and its encoded length.
func parseTransportID(b []byte) (prReg, int, bool) {
	if len(b) < 4 || b[0]&0x0F != iscsiProtocolID {
		return prReg{}, 0, false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < 4 || n%4 != 0 || 4+n > len(b) {
		return prReg{}, 0, false
	}
	s := string(b[4 : 4+n])
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	var r prReg
	switch b[0] >> 6 {
	case 0:
		r.n.InitiatorName = s
		r.anyISID = true
	case 1:
		i := strings.Index(strings.ToLower(s), ",i,0x")
		if i < 0 {
			return prReg{}, 0, false
		}
		isid, err := strconv.ParseUint(s[i+5:], 16, 48)
		if err != nil {
			return prReg{}, 0, false
		}
		r.n.InitiatorName, r.n.ISID = s[:i], isid
	default:
		return prReg{}, 0, false
	}
	if r.n.InitiatorName == "" {
		return prReg{}, 0, false
	}
	return r, 4 + n, true
}

func conflict(c *Command) { c.Status = ReservationConflict; c.Sense = nil }

// runPROut implements PERSISTENT RESERVE OUT (SPC-4 §6.16, §5.9.7-§5.9.11).
func runPROut(t *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	sa := cdb[1] & 0x1F
	scope, typ := cdb[2]>>4, cdb[2]&0x0F
	plen := int(binary.BigEndian.Uint32(cdb[5:9]))
	c.Needed = plen
	if sa > proutRegisterMove {
		c.invalidCDB(desc, 1, 4)
		return
	}
	switch sa {
	case proutReserve, proutRelease, proutPreempt, proutPreemptAbort:
		if scope != 0 {
			c.invalidCDB(desc, 2, 7)
			return
		}
		if !validPRType(typ) {
			c.invalidCDB(desc, 2, 3)
			return
		}
	}
	if plen < 24 || len(c.DataOut) < plen {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	d := c.DataOut[:plen]
	rk := binary.BigEndian.Uint64(d[0:8])
	sark := binary.BigEndian.Uint64(d[8:16])
	p := &l.pr
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.legacy && p.legacyBy != c.Nexus {
		conflict(c)
		return
	}
	var (
		specIPT = d[20]&0x08 != 0
		allTgPt = d[20]&0x04 != 0
		aptpl   = d[20]&0x01 != 0
	)
	if sa == proutRegisterMove {
		aptpl = d[17]&0x01 != 0
	}
	if sa != proutRegisterMove && (!specIPT || sa != proutRegister && sa != proutRegisterIgnore) && plen != 24 {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	if specIPT && sa == proutRegisterIgnore {
		c.invalidParam(desc, 20, 3)
		return
	}
	if aptpl && p.file == "" && (sa == proutRegister || sa == proutRegisterIgnore || sa == proutRegisterMove) {
		fp := uint16(20)
		if sa == proutRegisterMove {
			fp = 17
		}
		c.invalidParam(desc, fp, 0)
		return
	}
	snap := p.snapshot()
	var post []func()
	ok := false
	switch sa {
	case proutRegister, proutRegisterIgnore:
		ok = l.prRegister(c, sa, rk, sark, specIPT, allTgPt, aptpl, d)
	case proutReserve:
		ok = l.prReserve(c, rk, typ)
	case proutRelease:
		ok = l.prRelease(c, rk, typ)
	case proutClear:
		ok = l.prClear(c, rk)
	case proutPreempt, proutPreemptAbort:
		var preempted []prReg
		preempted, ok = l.prPreempt(c, rk, sark, typ)
		if ok && sa == proutPreemptAbort && p.abortFunc != nil {
			fn, lun := p.abortFunc, l.num
			for _, r := range preempted {
				if r.n != c.Nexus {
					n := r.n
					post = append(post, func() { fn(lun, n) })
				}
			}
		}
	case proutRegisterMove:
		ok = l.prRegisterMove(c, rk, sark, aptpl, d, t.alua.Load())
	}
	if !ok {
		p.restore(snap)
		return
	}
	p.update()
	if err := p.save(); err != nil {
		p.restore(snap)
		t.log.Error("persistent reservation state not saved", "lun", l.num, "err", err)
		c.check(desc, KeyHardwareError, ASCInternalTargetFailure)
		return
	}
	if len(post) > 0 {
		p.mu.Unlock()
		for _, f := range post {
			f()
		}
		p.mu.Lock()
	}
}

// prRegister handles REGISTER and REGISTER AND IGNORE EXISTING KEY.
func (l *lu) prRegister(c *Command, sa byte, rk, sark uint64, specIPT, allTgPt, aptpl bool, d []byte) bool {
	p := &l.pr
	desc := l.desc()
	i := p.find(c.Nexus)
	if i < 0 {
		if sa == proutRegister && rk != 0 {
			conflict(c)
			return false
		}
		if sark == 0 {
			return true // unregistering an unregistered nexus: nothing to do
		}
		regs := []prReg{{n: c.Nexus, key: sark, allTgPt: allTgPt}}
		if specIPT {
			if len(d) < 28 {
				c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
				return false
			}
			tl := int(binary.BigEndian.Uint32(d[24:28]))
			if 28+tl != len(d) {
				c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
				return false
			}
			for off := 28; off < len(d); {
				r, n, ok := parseTransportID(d[off:])
				if !ok {
					c.invalidParam(desc, uint16(off), 7)
					return false
				}
				r.key, r.allTgPt = sark, allTgPt
				r.n.TargetName, r.n.TPGT = c.Nexus.TargetName, c.Nexus.TPGT
				if !r.anyISID && r.matches(c.Nexus) || r.anyISID && strings.EqualFold(r.n.InitiatorName, c.Nexus.InitiatorName) {
					off += n
					continue // the receiving nexus is registered anyway
				}
				for j := range p.regs {
					if p.regs[j].matches(r.n) {
						conflict(c)
						return false
					}
				}
				regs = append(regs, r)
				off += n
			}
		}
		p.regs = append(p.regs, regs...)
	} else {
		if specIPT {
			c.invalidParam(desc, 20, 3)
			return false
		}
		if sa == proutRegister && rk != p.regs[i].key {
			conflict(c)
			return false
		}
		if sark == 0 {
			typ := p.typ
			if p.remove(i) && registrantsOnly(typ) {
				l.uaForRegs(p.regs, ASCReservationsReleased, c.Nexus)
			}
		} else {
			p.regs[i].key = sark
		}
	}
	p.aptpl = aptpl
	p.gen++
	return true
}

// registeredWith checks that c's nexus is registered with key rk; it
// answers RESERVATION CONFLICT otherwise.
func (l *lu) registeredWith(c *Command, rk uint64) (int, bool) {
	i := l.pr.find(c.Nexus)
	if i < 0 || l.pr.regs[i].key != rk {
		conflict(c)
		return -1, false
	}
	return i, true
}

func (l *lu) prReserve(c *Command, rk uint64, typ byte) bool {
	p := &l.pr
	i, ok := l.registeredWith(c, rk)
	if !ok {
		return false
	}
	if p.typ != 0 {
		if !p.isHolder(c.Nexus) || p.typ != typ {
			conflict(c)
			return false
		}
		return true
	}
	p.typ = typ
	p.holder = p.regs[i].n
	return true
}

func (l *lu) prRelease(c *Command, rk uint64, typ byte) bool {
	p := &l.pr
	if _, ok := l.registeredWith(c, rk); !ok {
		return false
	}
	if p.typ == 0 || !p.isHolder(c.Nexus) {
		return true
	}
	if p.typ != typ {
		s := Sense{Key: KeyIllegalRequest, ASC: ASCInvalidReleaseOfPR}
		c.setSense(l.desc(), &s)
		return false
	}
	old := p.typ
	p.typ = 0
	p.holder = Nexus{}
	if registrantsOnly(old) || allRegistrants(old) {
		l.uaForRegs(p.regs, ASCReservationsReleased, c.Nexus)
	}
	return true
}

func (l *lu) prClear(c *Command, rk uint64) bool {
	p := &l.pr
	if _, ok := l.registeredWith(c, rk); !ok {
		return false
	}
	l.uaForRegs(p.regs, ASCReservationsPreempted, c.Nexus)
	p.regs = nil
	p.typ = 0
	p.holder = Nexus{}
	p.gen++
	return true
}

// prPreempt handles PREEMPT and PREEMPT AND ABORT (SPC-4 §5.9.11.4) and
// returns the registrations it removed.
func (l *lu) prPreempt(c *Command, rk, sark uint64, typ byte) ([]prReg, bool) {
	p := &l.pr
	desc := l.desc()
	me, ok := l.registeredWith(c, rk)
	if !ok {
		return nil, false
	}
	self := p.regs[me].n
	var removed []prReg
	removeMatching := func(match func(*prReg) bool) {
		kept := p.regs[:0]
		for _, r := range p.regs {
			if r.n != self && match(&r) {
				removed = append(removed, r)
				continue
			}
			kept = append(kept, r)
		}
		p.regs = kept
	}
	switch {
	case p.typ != 0 && allRegistrants(p.typ) && sark == 0:
		removeMatching(func(*prReg) bool { return true })
		p.typ, p.holder = typ, self
		l.uaForRegs(removed, ASCRegistrationsPreempted, c.Nexus)
	case p.typ != 0 && !allRegistrants(p.typ) && sark == p.holderKey():
		oldTyp := p.typ
		removeMatching(func(r *prReg) bool { return r.key == sark })
		p.typ, p.holder = typ, self
		l.uaForRegs(removed, ASCRegistrationsPreempted, c.Nexus)
		if oldTyp != typ {
			l.uaForRegs(p.regs, ASCReservationsReleased, c.Nexus)
		}
	default:
		if sark == 0 {
			c.invalidParam(desc, 8, 7)
			return nil, false
		}
		removeMatching(func(r *prReg) bool { return r.key == sark })
		if len(removed) == 0 {
			conflict(c)
			return nil, false
		}
		// The holder of a registrants-only or exclusive reservation may
		// have been removed with its registration.
		if p.typ != 0 && !allRegistrants(p.typ) && p.find(p.holder) < 0 {
			p.typ, p.holder = 0, Nexus{}
		}
		if p.typ != 0 && allRegistrants(p.typ) && len(p.regs) == 0 {
			p.typ = 0
		}
		l.uaForRegs(removed, ASCRegistrationsPreempted, c.Nexus)
	}
	p.gen++
	return removed, true
}

// prRegisterMove handles REGISTER AND MOVE (SPC-4 §5.9.9). The relative
// target port identifier names the destination port: the requester's own or
// that of a configured target port group (see PortGroup).
func (l *lu) prRegisterMove(c *Command, rk, sark uint64, aptpl bool, d []byte, ports *aluaState) bool {
	p := &l.pr
	desc := l.desc()
	if len(d) < 24 {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return false
	}
	tl := int(binary.BigEndian.Uint32(d[20:24]))
	if 24+tl > len(d) {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return false
	}
	me, ok := l.registeredWith(c, rk)
	if !ok {
		return false
	}
	if p.typ == 0 || allRegistrants(p.typ) || !p.isHolder(c.Nexus) {
		conflict(c)
		return false
	}
	if sark == 0 {
		c.invalidParam(desc, 8, 7)
		return false
	}
	tpgt := c.Nexus.TPGT
	if rel := binary.BigEndian.Uint16(d[18:20]); rel != portTag(&c.Nexus) {
		if rel == 0 || ports.find(rel) == nil {
			c.invalidParam(desc, 18, 7)
			return false
		}
		tpgt = rel
	}
	r, n, ok := parseTransportID(d[24 : 24+tl])
	if !ok || n != tl || r.anyISID {
		c.invalidParam(desc, 24, 7)
		return false
	}
	r.n.TargetName, r.n.TPGT = c.Nexus.TargetName, tpgt
	if p.regs[me].matches(r.n) {
		c.invalidParam(desc, 24, 7)
		return false
	}
	unreg := d[17]&0x02 != 0
	if j := p.find(r.n); j >= 0 {
		p.regs[j].key = sark
		p.holder = p.regs[j].n
	} else {
		r.key = sark
		p.regs = append(p.regs, r)
		p.holder = r.n
	}
	if unreg {
		if i := p.find(c.Nexus); i >= 0 {
			p.regs = append(p.regs[:i], p.regs[i+1:]...)
		}
	}
	p.aptpl = aptpl
	p.gen++
	return true
}

// runReserve implements RESERVE(6) and RESERVE(10) (SPC-2 §7.21): a
// logical unit reservation for the sending I_T nexus. It conflicts with
// any persistent reservation registration (SPC-4 §5.9.3).
func runReserve(_ *Target, l *lu, c *Command) {
	desc := l.desc()
	if c.CDB[0] == opReserve10 {
		if c.CDB[1]&0x12 != 0 { // 3RDPTY, LONGID
			c.invalidCDB(desc, 1, 4)
			return
		}
	} else if c.CDB[1]&0x01 != 0 { // extent reservations are obsolete
		c.invalidCDB(desc, 1, 0)
		return
	}
	p := &l.pr
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.regs) > 0 || p.typ != 0 || p.legacy && p.legacyBy != c.Nexus {
		conflict(c)
		return
	}
	p.legacy = true
	p.legacyBy = c.Nexus
	p.update()
}

// runRelease implements RELEASE(6) and RELEASE(10): releasing a
// reservation held by another nexus, or none, is GOOD without effect.
func runRelease(_ *Target, l *lu, c *Command) {
	desc := l.desc()
	if c.CDB[0] == opRelease10 {
		if c.CDB[1]&0x12 != 0 {
			c.invalidCDB(desc, 1, 4)
			return
		}
	} else if c.CDB[1]&0x01 != 0 {
		c.invalidCDB(desc, 1, 0)
		return
	}
	p := &l.pr
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.regs) > 0 || p.typ != 0 {
		conflict(c)
		return
	}
	if p.legacy && p.legacyBy == c.Nexus {
		p.legacy = false
		p.legacyBy = Nexus{}
		p.update()
	}
}
