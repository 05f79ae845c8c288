package scsi

import "encoding/binary"

// Supported asymmetric access states reported in each target port group
// descriptor: T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP.
const tpgSupported = 0x80 | 0x08 | 0x04 | 0x02 | 0x01

// runReportTPG implements REPORT TARGET PORT GROUPS (SPC-4 §6.27) in the
// length-only (000b) and extended header (001b) formats. Every group has one
// target port whose relative target port identifier is the group's tag.
func runReportTPG(t *Target, l *lu, c *Command) {
	cdb := c.CDB
	format := cdb[1] >> 5
	if format > 1 {
		c.invalidCDB(l.desc(), 1, 7)
		return
	}
	alloc := int(binary.BigEndian.Uint32(cdb[6:10]))
	a := t.alua.Load()
	groups := a.groups
	if a.find(portTag(&c.Nexus)) == nil {
		// The port this command came through belongs to no configured
		// group: report it as an active/optimized group of its own.
		groups = append(groups[:len(groups):len(groups)], portGroup{PortGroup: PortGroup{Tag: portTag(&c.Nexus)}})
	}
	b := make([]byte, 4, 8+12*len(groups))
	if format == 1 {
		// EXT HDR, FORMAT TYPE 001b; IMPLICIT TRANSITION TIME 0 (unspecified).
		b = append(b, 0x10, 0, 0, 0)
	}
	for _, g := range groups {
		var d [12]byte
		d[0] = byte(g.State) & 0x0F
		d[1] = tpgSupported
		binary.BigEndian.PutUint16(d[2:4], g.Tag)
		d[5] = g.status
		d[7] = 1                                    // TARGET PORT COUNT
		binary.BigEndian.PutUint16(d[10:12], g.Tag) // RELATIVE TARGET PORT IDENTIFIER
		b = append(b, d[:]...)
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	c.putIn(b, alloc)
}

// runSetTPG implements SET TARGET PORT GROUPS (SPC-4 §6.46): explicit
// transitions to active/optimized, active/non-optimized, standby or
// unavailable. The requesting I_T nexus is not told of the change; every
// other one gets ASYMMETRIC ACCESS STATE CHANGED.
func runSetTPG(t *Target, l *lu, c *Command) {
	desc := l.desc()
	n := int(binary.BigEndian.Uint32(c.CDB[6:10]))
	c.Needed = n
	if n == 0 {
		return
	}
	if n < 4 || (n-4)%4 != 0 || len(c.DataOut) < n {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	p := c.DataOut[:n]
	states := map[uint16]AccessState{}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.alua.Load()
	for off := 4; off < n; off += 4 {
		d := p[off : off+4]
		s := AccessState(d[0] & 0x0F)
		if s > Unavailable {
			c.invalidParam(desc, uint16(off), 3)
			return
		}
		tag := binary.BigEndian.Uint16(d[2:4])
		if a.find(tag) == nil {
			c.invalidParam(desc, uint16(off+2), 7)
			return
		}
		states[tag] = s
	}
	if err := t.setStatesLocked(states, tpgStatusExplicit, c.Nexus, true); err != nil {
		c.check(desc, KeyIllegalRequest, ASCInvalidFieldInParamList)
	}
}
