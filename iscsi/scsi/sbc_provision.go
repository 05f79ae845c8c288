package scsi

import (
	"encoding/binary"
	"errors"
	"io"
)

// Logical block provisioning limits reported in VPD page B0h.
const (
	maxUnmapLBAs        = 1 << 20 // MAXIMUM UNMAP LBA COUNT (per descriptor)
	maxUnmapDescriptors = 256     // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
	maxWriteSameBlocks  = 0xFFFF  // MAXIMUM WRITE SAME LENGTH (as LIO)
)

// writeProtected terminates c with DATA PROTECT when the unit is read-only
// (configured, or software write protected through the control mode page).
func (l *lu) writeProtected(c *Command) bool {
	if l.readOnly || l.swp.Load() {
		c.check(l.desc(), KeyDataProtect, ASCWriteProtected)
		return true
	}
	return false
}

// mediumWriteError terminates c with MEDIUM ERROR, WRITE ERROR at lba.
func (l *lu) mediumWriteError(c *Command, lba uint64) {
	s := Sense{Key: KeyMediumError, ASC: ASCWriteError, Info: lba, InfoValid: true}
	c.setSense(l.desc(), &s)
}

// deallocate unmaps [lba, lba+n). When the backend cannot deallocate, the
// range is zeroed if the unit promises LBPRZ and left as is otherwise.
// The caller holds the range lock.
func (l *lu) deallocate(lba, n uint64) error {
	off, length := int64(lba<<l.shift), int64(n<<l.shift)
	err := l.be.Unmap(off, length)
	if errors.Is(err, ErrUnmapUnsupported) {
		if !l.lbprz {
			return nil
		}
		return l.fill(lba, n, nil)
	}
	return err
}

// fill writes the block pattern (zeros when nil) over [lba, lba+n).
func (l *lu) fill(lba, n uint64, pattern []byte) error {
	bp := verifyBufs.Get().(*[]byte)
	defer verifyBufs.Put(bp)
	buf := *bp
	bs := int(l.bs)
	if len(buf) < bs {
		buf = make([]byte, bs)
	}
	per := len(buf) / bs
	if pattern == nil {
		clear(buf[:per*bs])
	} else {
		for i := 0; i < per; i++ {
			copy(buf[i*bs:], pattern[:bs])
		}
	}
	off := int64(lba << l.shift)
	for left := n; left > 0; {
		k := min(left, uint64(per))
		if _, err := l.be.WriteAt(buf[:int(k)*bs], off); err != nil {
			return err
		}
		off += int64(k) << l.shift
		left -= k
	}
	return nil
}

// runUnmap implements UNMAP (SBC-3 §5.28). The whole parameter list is
// validated before any block is deallocated.
func runUnmap(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	if !l.thin {
		c.check(desc, KeyIllegalRequest, ASCInvalidOpcode)
		return
	}
	if cdb[1]&0x01 != 0 { // ANCHOR: anchored state not supported (ANC_SUP=0)
		c.invalidCDB(desc, 1, 0)
		return
	}
	plen := int(binary.BigEndian.Uint16(cdb[7:9]))
	c.Needed = plen
	if plen == 0 {
		return
	}
	if plen < 8 || len(c.DataOut) < plen {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	if l.writeProtected(c) {
		return
	}
	d := c.DataOut[:plen]
	bdl := int(binary.BigEndian.Uint16(d[2:4]))
	if bdl > plen-8 {
		bdl = plen - 8
	}
	if udl := int(binary.BigEndian.Uint16(d[0:2])); udl > plen-2 {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	n := bdl / 16
	if n > maxUnmapDescriptors {
		c.invalidParam(desc, 2, 7)
		return
	}
	nb := l.nblocks.Load()
	for i := 0; i < n; i++ {
		p := d[8+16*i:]
		lba := binary.BigEndian.Uint64(p[0:8])
		cnt := uint64(binary.BigEndian.Uint32(p[8:12]))
		if cnt > maxUnmapLBAs {
			c.invalidParam(desc, uint16(8+16*i+8), 7)
			return
		}
		if lba > nb || cnt > nb-lba {
			s := Sense{Key: KeyIllegalRequest, ASC: ASCLBAOutOfRange, Info: lba, InfoValid: true}
			c.setSense(desc, &s)
			return
		}
	}
	for i := 0; i < n; i++ {
		p := d[8+16*i:]
		lba := binary.BigEndian.Uint64(p[0:8])
		cnt := uint64(binary.BigEndian.Uint32(p[8:12]))
		if cnt == 0 {
			continue
		}
		m := l.rl.mask(lba, cnt)
		l.rl.lock(m, false)
		err := l.deallocate(lba, cnt)
		l.rl.unlock(m, false)
		if err != nil {
			l.mediumWriteError(c, lba)
			return
		}
	}
}

// runWriteSame implements WRITE SAME(10) and WRITE SAME(16) (SBC-3 §5.41,
// §5.42) with the UNMAP and NDOB bits. ANCHOR is rejected (ANC_SUP=0) and
// NUMBER OF LOGICAL BLOCKS zero is rejected (WSNZ=1).
func runWriteSame(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	a := decodeRW(cdb)
	sixteen := cdb[0] == opWriteSame16
	if a.flags&0xE0 != 0 { // WRPROTECT
		c.invalidCDB(desc, 1, 7)
		return
	}
	if a.flags&0x10 != 0 { // ANCHOR
		c.invalidCDB(desc, 1, 4)
		return
	}
	unmap := a.flags&0x08 != 0
	ndob := sixteen && a.flags&0x01 != 0
	if !sixteen && a.flags&0x01 != 0 { // obsolete RELADR / reserved
		c.invalidCDB(desc, 1, 0)
		return
	}
	if unmap && !l.thin {
		c.invalidCDB(desc, 1, 3)
		return
	}
	if a.n > maxWriteSameBlocks {
		c.invalidCDB(desc, lenPos(cdb), 7)
		return
	}
	if !l.checkRange(c, &a) {
		return
	}
	if a.n == 0 { // WSNZ
		c.invalidCDB(desc, lenPos(cdb), 7)
		return
	}
	if !ndob {
		c.Needed = int(l.bs)
	}
	if l.writeProtected(c) {
		return
	}
	var pattern []byte
	if !ndob {
		if len(c.DataOut) != int(l.bs) {
			// WRITE SAME transfers exactly one logical block.
			c.check(desc, KeyIllegalRequest, ASCInvalidFieldInIU)
			return
		}
		pattern = c.DataOut[:l.bs]
		if allZero(pattern) {
			pattern = nil
		}
	}
	m := l.rl.mask(a.lba, a.n)
	l.rl.lock(m, false)
	var err error
	if pattern == nil && unmap && l.lbprz {
		err = l.deallocate(a.lba, a.n)
	} else {
		err = l.fill(a.lba, a.n, pattern)
	}
	l.rl.unlock(m, false)
	if err == nil && !l.wce.Load() {
		err = l.be.Flush()
	}
	if err != nil {
		l.mediumWriteError(c, a.lba)
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Provisioning status values of GET LBA STATUS descriptors.
const (
	lbaMapped      = 0
	lbaDeallocated = 1
)

// runGetLBAStatus implements GET LBA STATUS (SBC-3 §5.6): one descriptor per
// extent of equal provisioning status starting at the STARTING LOGICAL
// BLOCK ADDRESS, as many as the allocation length holds.
func runGetLBAStatus(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	lba := binary.BigEndian.Uint64(cdb[2:10])
	alloc := int(binary.BigEndian.Uint32(cdb[10:14]))
	nb := l.nblocks.Load()
	if lba >= nb {
		s := Sense{Key: KeyIllegalRequest, ASC: ASCLBAOutOfRange, Info: lba, InfoValid: true}
		c.setSense(desc, &s)
		return
	}
	maxDesc := max((alloc-8)/16, 1)
	maxDesc = min(maxDesc, 64)
	b := make([]byte, 8, 8+16*maxDesc)
	mp, _ := l.be.(Mapper)
	for i := 0; i < maxDesc && lba < nb; i++ {
		left := nb - lba
		ext := min(left, 0xFFFFFFFF)
		status := byte(lbaMapped)
		if mp != nil && l.thin {
			mapped, bytes, err := mp.Mapped(int64(lba<<l.shift), int64(ext<<l.shift))
			if err != nil && !errors.Is(err, io.EOF) {
				c.check(desc, KeyMediumError, ASCUnrecoveredReadError)
				return
			}
			if err == nil {
				blocks := (uint64(bytes) + uint64(l.bs) - 1) >> l.shift
				ext = min(max(blocks, 1), ext)
				if !mapped {
					status = lbaDeallocated
				}
			}
		}
		var d [16]byte
		binary.BigEndian.PutUint64(d[0:8], lba)
		binary.BigEndian.PutUint32(d[8:12], uint32(ext))
		d[12] = status
		b = append(b, d[:]...)
		lba += ext
	}
	binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
	c.putIn(b, alloc)
}
