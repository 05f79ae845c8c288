package scsi

import (
	"math/bits"
	"sync"
)

// lockStripes is the number of reader/writer locks a logical unit's LBA
// space is striped over.
const lockStripes = 64

// lockRegionBytes is the span of LBAs one stripe covers at a time.
const lockRegionBytes = 1 << 20

// rangeLock orders commands that need atomicity on an LBA range (COMPARE
// AND WRITE, ORWRITE, WRITE ATOMIC, SANITIZE) against plain writers. The LBA
// space is cut into regions of lockRegionBytes; region r is guarded by
// stripe r mod lockStripes. Plain writes take their stripes shared, atomic
// commands exclusive. Stripes are always taken in ascending index order, so
// no two holders can deadlock, and nothing is allocated.
type rangeLock struct {
	shift uint // log2(blocks per region)
	m     [lockStripes]sync.RWMutex
}

func (r *rangeLock) init(blockShift uint) {
	r.shift = 20 - blockShift
	if blockShift > 20 {
		r.shift = 0
	}
}

// mask returns the set of stripes covering [lba, lba+n).
func (r *rangeLock) mask(lba, n uint64) uint64 {
	if n == 0 {
		return 0
	}
	first := lba >> r.shift
	last := (lba + n - 1) >> r.shift
	if last < first || last-first >= lockStripes-1 {
		return ^uint64(0)
	}
	var m uint64
	for x := first; x <= last; x++ {
		m |= 1 << (x % lockStripes)
	}
	return m
}

// lock takes the stripes of m, exclusively when excl.
func (r *rangeLock) lock(m uint64, excl bool) {
	for m != 0 {
		i := bits.TrailingZeros64(m)
		if excl {
			r.m[i].Lock()
		} else {
			r.m[i].RLock()
		}
		m &= m - 1
	}
}

// unlock releases what lock(m, excl) took.
func (r *rangeLock) unlock(m uint64, excl bool) {
	for m != 0 {
		i := bits.TrailingZeros64(m)
		if excl {
			r.m[i].Unlock()
		} else {
			r.m[i].RUnlock()
		}
		m &= m - 1
	}
}
