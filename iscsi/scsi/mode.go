package scsi

import "encoding/binary"

// Mode pages (SPC-4 §7.5, SBC-3 §6.4).
const (
	pageCaching  = 0x08
	pageControl  = 0x0A
	pageInfoExc  = 0x1C
	pageAllPages = 0x3F
)

// Page control values of MODE SENSE.
const (
	pcCurrent    = 0
	pcChangeable = 1
	pcDefault    = 2
	pcSaved      = 3
)

var modePages = []byte{pageCaching, pageControl, pageInfoExc}

// modePage returns page as seen under page control pc, or nil if the page
// is not supported.
func (l *lu) modePage(page, pc byte) []byte {
	switch page {
	case pageCaching:
		b := make([]byte, 20)
		b[0], b[1] = pageCaching, 0x12
		switch pc {
		case pcChangeable:
			b[2] = 0x04
		case pcDefault:
			if l.defWCE {
				b[2] = 0x04
			}
		default:
			if l.wce.Load() {
				b[2] = 0x04
			}
		}
		return b
	case pageControl:
		b := make([]byte, 12)
		b[0], b[1] = pageControl, 0x0A
		switch pc {
		case pcChangeable:
			b[2] = 0x04 // D_SENSE
			b[4] = 0x08 // SWP
		default:
			if pc == pcCurrent && l.dsense.Load() {
				b[2] = 0x04
			}
			if pc == pcCurrent && l.swp.Load() {
				b[4] = 0x08
			}
			b[3] = 0x10 // QUEUE ALGORITHM MODIFIER 1: unrestricted reordering
		}
		return b
	case pageInfoExc:
		b := make([]byte, 12)
		b[0], b[1] = pageInfoExc, 0x0A
		if pc != pcChangeable {
			b[2] = 0x08 // DEXCPT: informational exceptions disabled
		}
		return b
	}
	return nil
}

// runModeSense implements MODE SENSE(6) and MODE SENSE(10) (SPC-4 §6.11, §6.12).
func runModeSense(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	ten := cdb[0] == opModeSense10
	desc := l.desc()
	dbd := cdb[1]&0x08 != 0
	llbaa := ten && cdb[1]&0x10 != 0
	pc := cdb[2] >> 6
	page := cdb[2] & 0x3F
	sub := cdb[3]
	alloc := int(cdb[4])
	if ten {
		alloc = int(binary.BigEndian.Uint16(cdb[7:9]))
	}
	if pc == pcSaved {
		s := Sense{Key: KeyIllegalRequest, ASC: ASCSavingParamsUnsupported, SKS: FieldPointer(true, 2, 7)}
		c.setSense(desc, &s)
		return
	}
	if sub != 0 && sub != 0xFF {
		c.invalidCDB(desc, 3, 7)
		return
	}
	var body []byte
	if page == pageAllPages {
		for _, p := range modePages {
			body = append(body, l.modePage(p, pc)...)
		}
	} else if p := l.modePage(page, pc); p != nil {
		body = p
	} else {
		c.invalidCDB(desc, 2, 5)
		return
	}
	var bd []byte
	if !dbd {
		nb := l.nblocks.Load()
		if llbaa {
			bd = make([]byte, 16)
			if pc != pcChangeable {
				binary.BigEndian.PutUint64(bd[0:8], nb)
				binary.BigEndian.PutUint32(bd[12:16], l.bs)
			}
		} else {
			bd = make([]byte, 8)
			if pc != pcChangeable {
				binary.BigEndian.PutUint32(bd[0:4], uint32(min(nb, 0xFFFFFFFF)))
				bd[5], bd[6], bd[7] = byte(l.bs>>16), byte(l.bs>>8), byte(l.bs)
			}
		}
	}
	dsp := byte(0x10) // DPOFUA
	if l.readOnly || l.swp.Load() {
		dsp |= 0x80 // WP
	}
	var b []byte
	if ten {
		b = make([]byte, 8, 8+len(bd)+len(body))
		b[3] = dsp
		if llbaa && len(bd) > 0 {
			b[4] = 0x01 // LONGLBA
		}
		binary.BigEndian.PutUint16(b[6:8], uint16(len(bd)))
		b = append(append(b, bd...), body...)
		binary.BigEndian.PutUint16(b[0:2], uint16(len(b)-2))
	} else {
		b = make([]byte, 4, 4+len(bd)+len(body))
		b[2] = dsp
		b[3] = byte(len(bd))
		b = append(append(b, bd...), body...)
		b[0] = byte(len(b) - 1)
	}
	c.putIn(b, alloc)
}

// runModeSelect implements MODE SELECT(6) and MODE SELECT(10) (SPC-4 §6.9,
// §6.10). Only the changeable bits (WCE, D_SENSE) may differ from the
// current values; all pages are validated before any is applied.
func runModeSelect(t *Target, l *lu, c *Command) {
	cdb := c.CDB
	ten := cdb[0] == opModeSelect10
	desc := l.desc()
	plen := int(cdb[4])
	if ten {
		plen = int(binary.BigEndian.Uint16(cdb[7:9]))
	}
	if cdb[1]&0x01 != 0 { // SP: no savable pages
		c.invalidCDB(desc, 1, 0)
		return
	}
	c.Needed = plen
	if plen == 0 {
		return
	}
	if len(c.DataOut) < plen {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	d := c.DataOut[:plen]
	hdr := 4
	var bdlen int
	long := false
	if ten {
		hdr = 8
		if plen < hdr {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		bdlen = int(binary.BigEndian.Uint16(d[6:8]))
		long = d[4]&0x01 != 0
	} else {
		if plen < hdr {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		bdlen = int(d[3])
	}
	bdsz := 8
	if long {
		bdsz = 16
	}
	if bdlen%bdsz != 0 || hdr+bdlen > plen {
		c.invalidParam(desc, uint16(hdr-1), 7)
		return
	}
	nb := l.nblocks.Load()
	for off := hdr; off < hdr+bdlen; off += bdsz {
		var n uint64
		var bl uint32
		var blPos int
		if long {
			n = binary.BigEndian.Uint64(d[off : off+8])
			bl, blPos = binary.BigEndian.Uint32(d[off+12:off+16]), off+12
		} else {
			n = uint64(binary.BigEndian.Uint32(d[off : off+4]))
			bl, blPos = uint32(d[off+5])<<16|uint32(d[off+6])<<8|uint32(d[off+7]), off+5
			nb = min(nb, 0xFFFFFFFF)
		}
		if n != 0 && n != nb {
			c.invalidParam(desc, uint16(off), 7)
			return
		}
		if bl != l.bs {
			c.invalidParam(desc, uint16(blPos), 7)
			return
		}
	}
	wce, dsense, swp := l.wce.Load(), l.dsense.Load(), l.swp.Load()
	for off := hdr + bdlen; off < plen; {
		if off+2 > plen {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		if d[off]&0xC0 != 0 { // PS is reserved here; no subpages are supported
			bit := 7
			if d[off]&0x80 == 0 {
				bit = 6
			}
			c.invalidParam(desc, uint16(off), bit)
			return
		}
		page := d[off] & 0x3F
		cur := l.modePage(page, pcCurrent)
		if cur == nil {
			c.invalidParam(desc, uint16(off), 5)
			return
		}
		if int(d[off+1]) != len(cur)-2 {
			c.invalidParam(desc, uint16(off+1), 7)
			return
		}
		if off+len(cur) > plen {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		mask := l.modePage(page, pcChangeable)
		p := d[off : off+len(cur)]
		for i := 2; i < len(cur); i++ {
			if (p[i]^cur[i])&^mask[i] != 0 {
				c.invalidParam(desc, uint16(off+i), 7)
				return
			}
		}
		switch page {
		case pageCaching:
			wce = p[2]&0x04 != 0
		case pageControl:
			dsense = p[2]&0x04 != 0
			swp = p[4]&0x08 != 0
		}
		off += len(cur)
	}
	changed := wce != l.wce.Load() || dsense != l.dsense.Load() || swp != l.swp.Load()
	if wce != l.wce.Load() && !wce {
		// Leaving write-back: make what was cached durable.
		if err := l.be.Flush(); err != nil {
			c.check(desc, KeyMediumError, ASCWriteError)
			return
		}
	}
	l.wce.Store(wce)
	l.dsense.Store(dsense)
	l.swp.Store(swp)
	if changed {
		l.establishAll(ASCModeParametersChanged, c.Nexus, true)
	}
}
