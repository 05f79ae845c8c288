package scsi

import "encoding/binary"

func runTestUnitReady(_ *Target, _ *lu, _ *Command) {}

// runRequestSense reports (and clears) the oldest pending unit attention, or
// NO SENSE. For a LUN that does not exist it returns LOGICAL UNIT NOT
// SUPPORTED as sense data with GOOD status (SPC-4 §6.39).
func runRequestSense(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := cdb[1]&0x01 != 0
	alloc := int(cdb[4])
	var s Sense
	switch {
	case l == nil:
		s = Sense{Key: KeyIllegalRequest, ASC: ASCLUNotSupported}
	default:
		if l.sanitizing.Load() {
			s = l.sanitizeSense()
		} else if a, ok := l.pendingUA(c.Nexus, true); ok {
			s = Sense{Key: KeyUnitAttention, ASC: a}
		}
	}
	var buf [32]byte
	var b []byte
	if desc {
		b = s.AppendDescriptor(buf[:0])
	} else {
		b = s.AppendFixed(buf[:0])
	}
	c.putIn(b, alloc)
}

// runStartStopUnit accepts every power condition (SBC-3 §5.25). On a
// removable unit, LOEJ=1 with POWER CONDITION 0 ejects (START=0) or loads
// (START=1) the medium unless some I_T nexus prevents medium removal; on a
// fixed unit LOEJ has no effect.
func runStartStopUnit(_ *Target, l *lu, c *Command) {
	pc := c.CDB[4] >> 4
	if pc != 0 && pc != 1 && pc != 2 && pc != 3 && pc != 7 && pc != 0xA && pc != 0xB {
		c.invalidCDB(l.desc(), 4, 7)
		return
	}
	if l.removable && pc == 0 && c.CDB[4]&0x02 != 0 {
		if l.prevented.Load() > 0 {
			c.check(l.desc(), KeyIllegalRequest, ASCMediumRemovalPrevented)
			return
		}
		if c.CDB[4]&0x01 != 0 {
			l.ejected.Store(false)
			return
		}
		if !l.ejected.Load() {
			if err := l.be.Flush(); err != nil {
				c.check(l.desc(), KeyMediumError, ASCWriteError)
				return
			}
		}
		l.ejected.Store(true)
		return
	}
	if l.ejected.Load() {
		// Spinning up or down needs no medium; there is nothing to flush.
		return
	}
	if c.CDB[4]&0x04 == 0 && c.CDB[4]&0x01 == 0 {
		// Stopping: make cached data durable first.
		if err := l.be.Flush(); err != nil {
			c.check(l.desc(), KeyMediumError, ASCWriteError)
		}
	}
}

// runPreventAllow records the PREVENT bit of this I_T nexus on a removable
// unit (SBC-3 §5.15; SPC-4 §6.13); on a fixed unit it has no effect. The
// obsolete media changer values (PREVENT 1xb) are invalid.
func runPreventAllow(_ *Target, l *lu, c *Command) {
	if !l.removable {
		return
	}
	if c.CDB[4]&0x02 != 0 {
		c.invalidCDB(l.desc(), 4, 1)
		return
	}
	l.setPrevent(c.Nexus, c.CDB[4]&0x01 != 0)
}

// runReportLUNs implements REPORT LUNS (SPC-4 §6.33): SELECT REPORT 00h and
// 02h list every logical unit, 01h the (absent) well-known ones.
func runReportLUNs(t *Target, l *lu, c *Command) {
	cdb := c.CDB
	alloc := int(binary.BigEndian.Uint32(cdb[6:10]))
	if alloc < 16 {
		c.invalidCDB(l.desc(), 6, 7)
		return
	}
	var luns []uint64
	switch cdb[2] {
	case 0x00, 0x02:
		luns = t.LUNs()
	case 0x01:
	default:
		c.invalidCDB(l.desc(), 2, 7)
		return
	}
	b := make([]byte, 8+8*len(luns))
	binary.BigEndian.PutUint32(b[0:4], uint32(8*len(luns)))
	for i, n := range luns {
		e := EncodeLUN(n)
		copy(b[8+8*i:], e[:])
	}
	// REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for this nexus.
	for _, n := range luns {
		if x := t.lookup(n); x != nil {
			x.clearUA(c.Nexus, ASCReportedLUNsDataChanged)
		}
	}
	c.putIn(b, alloc)
}
