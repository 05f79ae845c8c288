package scsi

// runSyncCache implements SYNCHRONIZE CACHE(10/16) (SBC-3 §5.22): the range
// is checked, then the whole backend is flushed (IMMED is honoured by
// completing the flush before status, which is always allowed).
func runSyncCache(_ *Target, l *lu, c *Command) {
	a := decodeRW(c.CDB)
	if a.n == 0 { // zero means "to the end of the medium"
		if nb := l.nblocks.Load(); a.lba <= nb {
			a.n = nb - a.lba
		}
	}
	if !l.checkRange(c, &a) {
		return
	}
	if err := l.be.Flush(); err != nil {
		c.check(l.desc(), KeyMediumError, ASCWriteError)
	}
}

// runPreFetch implements PRE-FETCH(10/16) (SBC-3 §5.9). The store has no
// read cache to fill, so a valid range completes with GOOD.
func runPreFetch(_ *Target, l *lu, c *Command) {
	a := decodeRW(c.CDB)
	l.checkRange(c, &a)
}
