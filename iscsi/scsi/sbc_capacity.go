package scsi

import "encoding/binary"

// runReadCapacity10 implements READ CAPACITY(10) (SBC-3 §5.15).
func runReadCapacity10(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	if cdb[8]&0x01 == 0 && binary.BigEndian.Uint32(cdb[2:6]) != 0 {
		c.invalidCDB(l.desc(), 2, 7) // LBA must be zero when PMI is zero
		return
	}
	var b [8]byte
	last := l.nblocks.Load() - 1
	if l.nblocks.Load() == 0 {
		last = 0
	}
	if last > 0xFFFFFFFF {
		last = 0xFFFFFFFF
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(last))
	binary.BigEndian.PutUint32(b[4:8], l.bs)
	c.putIn(b[:], len(b))
}

// runReadCapacity16 implements READ CAPACITY(16) (SBC-3 §5.16).
func runReadCapacity16(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	alloc := int(binary.BigEndian.Uint32(cdb[10:14]))
	if cdb[14]&0x01 == 0 && binary.BigEndian.Uint64(cdb[2:10]) != 0 {
		c.invalidCDB(l.desc(), 2, 7)
		return
	}
	var b [32]byte
	nb := l.nblocks.Load()
	if nb > 0 {
		nb--
	}
	binary.BigEndian.PutUint64(b[0:8], nb)
	binary.BigEndian.PutUint32(b[8:12], l.bs)
	// No protection; LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT, lowest
	// aligned LBA 0.
	b[13] = l.lbppbe & 0x0F
	if l.thin {
		b[14] = 0x80 // LBPME
		if l.lbprz {
			b[14] |= 0x40 // LBPRZ
		}
	}
	c.putIn(b[:], alloc)
}
