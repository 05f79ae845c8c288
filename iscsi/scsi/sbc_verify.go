package scsi

import (
	"bytes"
	"io"
	"sync"
)

var verifyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// runVerify implements VERIFY(10/12/16) (SBC-3 §5.30). BYTCHK=0 checks that
// the range is readable; BYTCHK=1 compares it with DataOut and fails with
// MISCOMPARE, the INFORMATION field holding the offset of the first
// differing byte.
func runVerify(_ *Target, l *lu, c *Command) {
	a := decodeRW(c.CDB)
	desc := l.desc()
	if a.flags&0xE0 != 0 { // VRPROTECT
		c.invalidCDB(desc, 1, 7)
		return
	}
	bytchk := a.flags >> 1 & 0x03
	if bytchk > 1 {
		c.invalidCDB(desc, 1, 2)
		return
	}
	if !l.checkRange(c, &a) || !l.checkXfer(c, &a) {
		return
	}
	total := int(a.n << l.shift)
	if bytchk == 1 {
		c.Needed = total
		if len(c.DataOut) < total {
			if len(c.DataOut)&(int(l.bs)-1) != 0 {
				c.check(desc, KeyIllegalRequest, ASCInvalidFieldInIU)
				return
			}
			total = len(c.DataOut)
		}
	}
	bp := verifyBufs.Get().(*[]byte)
	defer verifyBufs.Put(bp)
	buf := *bp
	off := int64(a.lba << l.shift)
	for done := 0; done < total; {
		n := min(len(buf), total-done)
		got, err := l.be.ReadAt(buf[:n], off+int64(done))
		if err != nil && !(err == io.EOF && got == n) {
			s := Sense{Key: KeyMediumError, ASC: ASCUnrecoveredReadError, Info: a.lba + uint64(done+got)>>l.shift, InfoValid: true}
			c.setSense(desc, &s)
			return
		}
		if bytchk == 1 {
			want := c.DataOut[done : done+n]
			if !bytes.Equal(buf[:n], want) {
				i := 0
				for i < n && buf[i] == want[i] {
					i++
				}
				s := Sense{Key: KeyMiscompare, ASC: ASCMiscompareDuringVerify, Info: uint64(done + i), InfoValid: true}
				c.setSense(desc, &s)
				return
			}
		}
		done += n
	}
}
