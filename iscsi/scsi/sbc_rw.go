package scsi

import (
	"encoding/binary"
	"io"
)

// rwArgs are the decoded LBA, length and flags byte of a block command.
type rwArgs struct {
	lba   uint64
	n     uint64 // blocks
	flags byte   // byte 1 of 10/12/16-byte CDBs, 0 for 6-byte ones
}

// decodeRW decodes the LBA and TRANSFER (or VERIFICATION / PREFETCH) LENGTH
// of the block commands by CDB group.
func decodeRW(cdb []byte) rwArgs {
	switch cdb[0] >> 5 {
	case 0: // 6-byte
		n := uint64(cdb[4])
		if n == 0 && (cdb[0] == opRead6 || cdb[0] == opWrite6) {
			n = 256
		}
		return rwArgs{lba: uint64(cdb[1]&0x1F)<<16 | uint64(cdb[2])<<8 | uint64(cdb[3]), n: n}
	case 1, 2: // 10-byte
		return rwArgs{lba: uint64(binary.BigEndian.Uint32(cdb[2:6])), n: uint64(binary.BigEndian.Uint16(cdb[7:9])), flags: cdb[1]}
	case 5: // 12-byte
		return rwArgs{lba: uint64(binary.BigEndian.Uint32(cdb[2:6])), n: uint64(binary.BigEndian.Uint32(cdb[6:10])), flags: cdb[1]}
	default: // 16-byte
		return rwArgs{lba: binary.BigEndian.Uint64(cdb[2:10]), n: uint64(binary.BigEndian.Uint32(cdb[10:14])), flags: cdb[1]}
	}
}

// lbaPos is the byte index of the LOGICAL BLOCK ADDRESS field per CDB size.
func lbaPos(cdb []byte) uint16 {
	if cdb[0]>>5 == 0 {
		return 1
	}
	return 2
}

// lenPos is the byte index of the TRANSFER LENGTH field per CDB size.
func lenPos(cdb []byte) uint16 {
	switch cdb[0] >> 5 {
	case 0:
		return 4
	case 1, 2:
		return 7
	case 5:
		return 6
	}
	return 10
}

// checkRange terminates c with LOGICAL BLOCK ADDRESS OUT OF RANGE when
// [lba, lba+n) is not within the medium.
func (l *lu) checkRange(c *Command, a *rwArgs) bool {
	nb := l.nblocks.Load()
	if a.lba > nb || a.n > nb-a.lba {
		s := Sense{Key: KeyIllegalRequest, ASC: ASCLBAOutOfRange, Info: a.lba, InfoValid: true}
		c.setSense(l.desc(), &s)
		return false
	}
	return true
}

// checkXfer enforces MAXIMUM TRANSFER LENGTH (VPD B0h).
func (l *lu) checkXfer(c *Command, a *rwArgs) bool {
	if a.n > uint64(l.maxXfer) {
		c.invalidCDB(l.desc(), lenPos(c.CDB), 7)
		return false
	}
	return true
}

// runRead implements READ(6/10/12/16). Data goes straight into DataIn; if
// DataIn is shorter than the transfer length only what fits is read.
func runRead(_ *Target, l *lu, c *Command) {
	a := decodeRW(c.CDB)
	if a.flags&0xE0 != 0 { // RDPROTECT: no protection information
		c.invalidCDB(l.desc(), 1, 7)
		return
	}
	if !l.checkRange(c, &a) || !l.checkXfer(c, &a) {
		return
	}
	c.Needed = int(a.n << l.shift)
	n := min(len(c.DataIn), c.Needed)
	if n == 0 {
		return
	}
	// Shared range lock: COMPARE AND WRITE, ORWRITE and WRITE ATOMIC are
	// atomic to readers too.
	m := l.rl.mask(a.lba, (uint64(n)+uint64(l.bs)-1)>>l.shift)
	l.rl.lock(m, false)
	got, err := l.be.ReadAt(c.DataIn[:n], int64(a.lba<<l.shift))
	l.rl.unlock(m, false)
	if err != nil && !(err == io.EOF && got == n) {
		s := Sense{Key: KeyMediumError, ASC: ASCUnrecoveredReadError, Info: a.lba + uint64(got)>>l.shift, InfoValid: true}
		c.setSense(l.desc(), &s)
		return
	}
	c.InLen = n
}

// runWrite implements WRITE(6/10/12/16) and WRITE AND VERIFY(10/12/16).
//
// Residuals follow FCP-4 as exercised by libiscsi's write residual tests:
// when DataOut is longer than the transfer length the excess is ignored;
// when shorter, only the whole blocks received are written and the status
// is GOOD (the fabric reports the overflow), unless a partial block arrived,
// in which case nothing is written and the command ends with ILLEGAL
// REQUEST, INVALID FIELD IN INFORMATION UNIT.
func runWrite(_ *Target, l *lu, c *Command) {
	a := decodeRW(c.CDB)
	desc := l.desc()
	if a.flags&0xE0 != 0 { // WRPROTECT: no protection information
		c.invalidCDB(desc, 1, 7)
		return
	}
	if !l.checkRange(c, &a) || !l.checkXfer(c, &a) {
		return
	}
	c.Needed = int(a.n << l.shift)
	if l.writeProtected(c) {
		return
	}
	data := c.DataOut
	if len(data) >= c.Needed {
		data = data[:c.Needed]
	} else if len(data)&(int(l.bs)-1) != 0 {
		c.check(desc, KeyIllegalRequest, ASCInvalidFieldInIU)
		return
	}
	if len(data) == 0 {
		return
	}
	off := int64(a.lba << l.shift)
	m := l.rl.mask(a.lba, uint64(len(data))>>l.shift)
	l.rl.lock(m, false)
	got, err := l.be.WriteAt(data, off)
	l.rl.unlock(m, false)
	if err != nil {
		s := Sense{Key: KeyMediumError, ASC: ASCWriteError, Info: a.lba + uint64(got)>>l.shift, InfoValid: true}
		c.setSense(desc, &s)
		return
	}
	// FUA (byte 1 bit 3) on WRITE(10/12/16); WRITE AND VERIFY always
	// verifies against the medium, so it is made durable too.
	verify := c.CDB[0] == opWriteVerify10 || c.CDB[0] == opWriteVerify12 || c.CDB[0] == opWriteVerify16
	if !l.wce.Load() || a.flags&0x08 != 0 || verify {
		if err := l.be.Flush(); err != nil {
			s := Sense{Key: KeyMediumError, ASC: ASCWriteError, Info: a.lba, InfoValid: true}
			c.setSense(desc, &s)
		}
	}
}
