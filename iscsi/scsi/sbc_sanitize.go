package scsi

import (
	"encoding/binary"
	"time"
)

// sanitizeRate paces SANITIZE at this many bytes per second so a sanitize
// of one logical unit does not monopolize a backing device shared with
// others; it runs in the background and reports its progress meanwhile.
const sanitizeRate = 128 << 20

// SANITIZE service actions (SBC-3 §5.19).
const (
	sanOverwrite  = 0x01
	sanBlockErase = 0x02
	sanCrypto     = 0x03
	sanExitFail   = 0x1F
)

// ASCs of the sanitize operation.
const (
	ASCSanitizeInProgress ASC = 0x041B
	ASCSanitizeFailed     ASC = 0x3103
)

// sanitizeSense reports NOT READY, SANITIZE IN PROGRESS with the progress
// indication in the sense-key specific bytes.
func (l *lu) sanitizeSense() Sense {
	p := l.sanProgress.Load()
	return Sense{Key: KeyNotReady, ASC: ASCSanitizeInProgress, SKS: [3]byte{0x80, byte(p >> 8), byte(p)}}
}

// runSanitize implements SANITIZE (SBC-3 §5.19). OVERWRITE writes the
// initialization pattern (optionally inverted between passes) over every
// block; BLOCK ERASE deallocates every block (or zeroes it on a fully
// provisioned unit); CRYPTO ERASE is performed as a zero overwrite. With
// IMMED the operation runs in the background; until it ends other commands
// get NOT READY, SANITIZE IN PROGRESS and REQUEST SENSE reports progress.
func runSanitize(t *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	immed := cdb[1]&0x80 != 0
	sa := cdb[1] & 0x1F
	plen := int(binary.BigEndian.Uint16(cdb[7:9]))
	c.Needed = plen
	if cdb[1]&0x40 != 0 { // reserved (ZNR: not a zoned device)
		c.invalidCDB(desc, 1, 6)
		return
	}
	for i := 2; i <= 6; i++ {
		if cdb[i] != 0 {
			c.invalidCDB(desc, uint16(i), 7)
			return
		}
	}
	var pattern []byte
	var passes int
	var invert bool
	switch sa {
	case sanOverwrite:
		if plen < 5 || plen > int(l.bs)+4 {
			c.invalidCDB(desc, 7, 7)
			return
		}
		if len(c.DataOut) < plen {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		d := c.DataOut[:plen]
		invert = d[0]&0x80 != 0
		passes = int(d[0] & 0x1F)
		if d[0]&0x60 != 0 { // TEST
			c.invalidParam(desc, 0, 6)
			return
		}
		if passes == 0 {
			c.invalidParam(desc, 0, 4)
			return
		}
		if d[1] != 0 {
			c.invalidParam(desc, 1, 7)
			return
		}
		pl := int(binary.BigEndian.Uint16(d[2:4]))
		if pl == 0 || pl > int(l.bs) {
			c.invalidParam(desc, 2, 7)
			return
		}
		if 4+pl != plen {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		pattern = make([]byte, l.bs)
		for i := 0; i < len(pattern); i += pl {
			copy(pattern[i:], d[4:4+pl])
		}
	case sanBlockErase, sanCrypto, sanExitFail:
		if plen != 0 {
			c.invalidCDB(desc, 7, 7)
			return
		}
	default:
		c.invalidCDB(desc, 1, 4)
		return
	}
	if sa == sanExitFail {
		l.sanFailed.Store(false)
		return
	}
	if l.writeProtected(c) {
		return
	}
	if !l.sanitizing.CompareAndSwap(false, true) {
		s := l.sanitizeSense()
		c.setSense(desc, &s)
		return
	}
	l.sanProgress.Store(0)
	job := func() bool {
		defer l.sanitizing.Store(false)
		all := ^uint64(0)
		l.rl.lock(all, true)
		defer l.rl.unlock(all, true)
		nb := l.nblocks.Load()
		ok := true
		switch sa {
		case sanOverwrite:
			for pass := 0; pass < passes && ok; pass++ {
				p := pattern
				if invert && pass%2 == 1 {
					p = make([]byte, len(pattern))
					for i, b := range pattern {
						p[i] = ^b
					}
				}
				ok = l.sanitizeRange(nb, pass, passes, func(lba, n uint64) error { return l.fill(lba, n, p) })
			}
		case sanBlockErase:
			ok = l.sanitizeRange(nb, 0, 1, func(lba, n uint64) error {
				if l.thin && l.lbprz {
					return l.deallocate(lba, n)
				}
				return l.fill(lba, n, nil)
			})
		case sanCrypto:
			ok = l.sanitizeRange(nb, 0, 1, func(lba, n uint64) error { return l.fill(lba, n, nil) })
		}
		if ok {
			ok = l.be.Flush() == nil
		}
		l.sanFailed.Store(!ok)
		if !ok {
			t.log.Error("sanitize failed", "lun", l.num)
		}
		return ok
	}
	done := make(chan bool, 1)
	go func() { done <- job() }()
	if immed {
		return
	}
	select {
	case ok := <-done:
		if !ok {
			c.check(desc, KeyMediumError, ASCSanitizeFailed)
		}
	case <-c.Abort: // aborted task: the operation continues (SBC-3 §4.11)
	}
}

// sanitizeRange applies op over the whole medium in chunks, updating the
// progress indication for pass of passes.
func (l *lu) sanitizeRange(nb uint64, pass, passes int, op func(lba, n uint64) error) bool {
	const chunkBytes = 16 << 20
	chunk := uint64(chunkBytes) >> l.shift
	pace := time.Second * chunkBytes / sanitizeRate
	for lba := uint64(0); lba < nb; lba += chunk {
		start := time.Now()
		n := min(chunk, nb-lba)
		if err := op(lba, n); err != nil {
			return false
		}
		if d := pace * time.Duration(n) / time.Duration(chunk); time.Since(start) < d {
			time.Sleep(d - time.Since(start))
		}
		done := (uint64(pass)*nb + lba + n) * 65535 / (uint64(passes) * nb)
		l.sanProgress.Store(uint32(done))
	}
	return true
}
