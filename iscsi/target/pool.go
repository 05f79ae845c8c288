package target

import (
	"math/bits"
	"sync"
)

// Data buffers come from power-of-two size classes so that steady-state I/O allocates nothing.
const (
	minBufShift = 9  // 512 B
	maxBufShift = 24 // 16 MiB
)

var bufPools [maxBufShift + 1]sync.Pool

// dataBuf is a pooled buffer; the pointer is what travels through the pool, so Put does not allocate.
type dataBuf struct {
	b []byte
}

// getBuf returns a buffer of at least n bytes (n ≤ 16 MiB). Its contents are undefined.
func getBuf(n int) *dataBuf {
	shift := minBufShift
	if n > 1<<minBufShift {
		shift = bits.Len(uint(n - 1))
	}
	if shift > maxBufShift {
		return &dataBuf{b: make([]byte, n)}
	}
	if v := bufPools[shift].Get(); v != nil {
		d := v.(*dataBuf)
		d.b = d.b[:n]
		return d
	}
	return &dataBuf{b: make([]byte, n, 1<<shift)}
}

func putBuf(d *dataBuf) {
	if d == nil {
		return
	}
	c := cap(d.b)
	if c < 1<<minBufShift || c > 1<<maxBufShift || c&(c-1) != 0 {
		return
	}
	bufPools[bits.Len(uint(c))-1].Put(d)
}
