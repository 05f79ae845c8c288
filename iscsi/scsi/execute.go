package scsi

// Execute runs cmd against the addressed logical unit and sets its Status,
// Sense, InLen and Needed. It is safe for concurrent use and never panics on
// any CDB.
func (t *Target) Execute(c *Command) {
	c.Status = Good
	c.Sense = nil
	c.InLen = 0
	c.Needed = 0
	l := t.lookup(c.LUN)
	if len(c.CDB) == 0 {
		c.check(l.desc(), KeyIllegalRequest, ASCInvalidOpcode)
		return
	}
	op := &opTable[c.CDB[0]]
	if l == nil {
		if op.flags&fAnyLUN == 0 {
			c.check(false, KeyIllegalRequest, ASCLUNotSupported)
			return
		}
	}
	desc := l.desc()
	if op.run == nil {
		c.check(desc, KeyIllegalRequest, ASCInvalidOpcode)
		return
	}
	if len(c.CDB) < int(op.cdbLen) {
		c.check(desc, KeyIllegalRequest, ASCInvalidOpcode)
		return
	}
	// CONTROL byte: NACA and the obsolete LINK bit are not supported.
	last := uint16(op.cdbLen - 1)
	if ctl := c.CDB[last]; ctl&0x05 != 0 {
		bit := 2
		if ctl&0x04 == 0 {
			bit = 0
		}
		c.invalidCDB(desc, last, bit)
		return
	}
	if l != nil {
		if op.flags&fNoUA == 0 {
			if a, ok := l.pendingUA(c.Nexus, true); ok {
				c.check(desc, KeyUnitAttention, a)
				return
			}
		} else {
			l.touch(c.Nexus)
		}
		if !t.aluaGate(l, c) {
			return
		}
		if l.pr.reserved.Load() && l.pr.conflicts(c) {
			c.Status = ReservationConflict
			return
		}
		if l.sanitizing.Load() && op.flags&fNoUA == 0 {
			s := l.sanitizeSense()
			c.setSense(desc, &s)
			return
		}
		if op.flags&fMedium != 0 && l.ejected.Load() {
			c.check(desc, KeyNotReady, ASCMediumNotPresent)
			return
		}
	}
	op.run(t, l, c)
}

// putIn copies response data into DataIn, bounded by the allocation length
// and the buffer, and records Needed as the amount the device server
// transfers (SPDTL): min(len(b), alloc).
func (c *Command) putIn(b []byte, alloc int) {
	if len(b) > alloc {
		b = b[:alloc]
	}
	c.Needed = len(b)
	c.InLen = copy(c.DataIn, b)
}
