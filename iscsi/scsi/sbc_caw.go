package scsi

import (
	"bytes"
	"encoding/binary"
	"io"
)

// maxCompareAndWriteBlocks is the MAXIMUM COMPARE AND WRITE LENGTH.
const maxCompareAndWriteBlocks = 255

// maxAtomic is the MAXIMUM ATOMIC TRANSFER LENGTH in blocks.
func (l *lu) maxAtomic() uint32 { return min(l.maxXfer, 1<<20>>l.shift) }

// readBlocks reads [lba, lba+n) into a new buffer, or terminates c with
// MEDIUM ERROR.
func (l *lu) readBlocks(c *Command, lba uint64, n uint64) ([]byte, bool) {
	buf := make([]byte, n<<l.shift)
	got, err := l.be.ReadAt(buf, int64(lba<<l.shift))
	if err != nil && !(err == io.EOF && got == len(buf)) {
		s := Sense{Key: KeyMediumError, ASC: ASCUnrecoveredReadError, Info: lba + uint64(got)>>l.shift, InfoValid: true}
		c.setSense(l.desc(), &s)
		return nil, false
	}
	return buf, true
}

// writeBlocks writes p at lba and flushes when the cache is write-through
// or FUA is set; it terminates c with MEDIUM ERROR on failure.
func (l *lu) writeBlocks(c *Command, lba uint64, p []byte, fua bool) bool {
	if got, err := l.be.WriteAt(p, int64(lba<<l.shift)); err != nil {
		l.mediumWriteError(c, lba+uint64(got)>>l.shift)
		return false
	}
	if fua || !l.wce.Load() {
		if err := l.be.Flush(); err != nil {
			l.mediumWriteError(c, lba)
			return false
		}
	}
	return true
}

// runCompareAndWrite implements COMPARE AND WRITE (SBC-3 §5.2). The
// compare and the write happen under the exclusive range lock, so they are
// atomic against every other writer of an overlapping range. On mismatch
// nothing is written and the command ends with MISCOMPARE, MISCOMPARE
// DURING VERIFY OPERATION, INFORMATION holding the offset of the first
// differing byte.
func runCompareAndWrite(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	if cdb[1]&0xE0 != 0 { // WRPROTECT
		c.invalidCDB(desc, 1, 7)
		return
	}
	a := rwArgs{lba: binary.BigEndian.Uint64(cdb[2:10]), n: uint64(cdb[13])}
	if a.n > maxCompareAndWriteBlocks {
		c.invalidCDB(desc, 13, 7)
		return
	}
	if !l.checkRange(c, &a) {
		return
	}
	size := int(a.n << l.shift)
	c.Needed = 2 * size
	if a.n == 0 {
		// No blocks is not an error (SBC-3), but data sent for a zero
		// count means the initiator meant a count the byte cannot hold.
		if len(c.DataOut) > 0 {
			c.invalidCDB(desc, 13, 7)
		}
		return
	}
	if l.writeProtected(c) {
		return
	}
	if len(c.DataOut) != 2*size {
		// Too little or too much data: the NUMBER OF LOGICAL BLOCKS and
		// the transfer disagree, so which blocks to compare is unknown.
		c.check(desc, KeyIllegalRequest, ASCInvalidFieldInIU)
		return
	}
	want, data := c.DataOut[:size], c.DataOut[size:2*size]
	m := l.rl.mask(a.lba, a.n)
	l.rl.lock(m, true)
	defer l.rl.unlock(m, true)
	cur, ok := l.readBlocks(c, a.lba, a.n)
	if !ok {
		return
	}
	if !bytes.Equal(cur, want) {
		i := 0
		for i < size && cur[i] == want[i] {
			i++
		}
		s := Sense{Key: KeyMiscompare, ASC: ASCMiscompareDuringVerify, Info: uint64(i), InfoValid: true}
		c.setSense(desc, &s)
		return
	}
	l.writeBlocks(c, a.lba, data, cdb[1]&0x08 != 0)
}

// runOrWrite implements ORWRITE(16) (SBC-3 §5.8): the data-out buffer is
// ORed into the medium atomically with respect to other writers.
func runOrWrite(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	a := decodeRW(cdb)
	if a.flags&0xE0 != 0 { // ORPROTECT
		c.invalidCDB(desc, 1, 7)
		return
	}
	if !l.checkRange(c, &a) || !l.checkXfer(c, &a) {
		return
	}
	size, m, ok := l.beginExclusiveWrite(c, &a, desc)
	if !ok {
		return
	}
	defer l.rl.unlock(m, true)
	cur, ok := l.readBlocks(c, a.lba, a.n)
	if !ok {
		return
	}
	for i, b := range c.DataOut[:size] {
		cur[i] |= b
	}
	l.writeBlocks(c, a.lba, cur, a.flags&0x08 != 0)
}

// runWriteAtomic implements WRITE ATOMIC(16) (SBC-4 §5.48): the whole
// transfer is written under the exclusive range lock, so no other command
// observes or interleaves with a partial write. Atomic boundaries are not
// supported (MAXIMUM ATOMIC BOUNDARY SIZE 0).
func runWriteAtomic(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	if cdb[1]&0xE0 != 0 { // WRPROTECT
		c.invalidCDB(desc, 1, 7)
		return
	}
	a := rwArgs{lba: binary.BigEndian.Uint64(cdb[2:10]), n: uint64(binary.BigEndian.Uint16(cdb[12:14]))}
	if binary.BigEndian.Uint16(cdb[10:12]) != 0 { // ATOMIC BOUNDARY
		c.invalidCDB(desc, 10, 7)
		return
	}
	if a.n > uint64(l.maxAtomic()) {
		c.invalidCDB(desc, 12, 7)
		return
	}
	if !l.checkRange(c, &a) {
		return
	}
	size, m, ok := l.beginExclusiveWrite(c, &a, desc)
	if !ok {
		return
	}
	defer l.rl.unlock(m, true)
	l.writeBlocks(c, a.lba, c.DataOut[:size], cdb[1]&0x08 != 0)
}

// beginExclusiveWrite does what ORWRITE and WRITE ATOMIC share once their range is checked: it sets Needed, answers
// a zero-length transfer, a write-protected LU or short data, and takes the range lock exclusively. When ok, the
// caller writes size bytes and releases the lock with l.rl.unlock(m, true).
func (l *lu) beginExclusiveWrite(c *Command, a *rwArgs, desc bool) (size int, m uint64, ok bool) {
	size = int(a.n << l.shift)
	c.Needed = size
	if a.n == 0 || l.writeProtected(c) {
		return 0, 0, false
	}
	if len(c.DataOut) < size {
		c.check(desc, KeyIllegalRequest, ASCInvalidFieldInIU)
		return 0, 0, false
	}
	m = l.rl.mask(a.lba, a.n)
	l.rl.lock(m, true)
	return size, m, true
}
