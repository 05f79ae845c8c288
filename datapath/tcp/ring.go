package tcp

import "sync/atomic"

// spsc is a single-producer single-consumer ring of T with power-of-two capacity.
type spsc[T any] struct {
	buf  []T
	mask uint64
	head atomic.Uint64 // next slot the producer writes
	tail atomic.Uint64 // next slot the consumer reads
}

func newSPSC[T any](n int) *spsc[T] {
	c := 1
	for c < n {
		c <<= 1
	}
	return &spsc[T]{buf: make([]T, c), mask: uint64(c - 1)}
}

func (r *spsc[T]) push(v T) bool {
	h := r.head.Load()
	if h-r.tail.Load() == uint64(len(r.buf)) {
		return false
	}
	r.buf[h&r.mask] = v
	r.head.Store(h + 1)
	return true
}

func (r *spsc[T]) pop() (T, bool) {
	var zero T
	t := r.tail.Load()
	if t == r.head.Load() {
		return zero, false
	}
	v := r.buf[t&r.mask]
	r.buf[t&r.mask] = zero
	r.tail.Store(t + 1)
	return v, true
}

func (r *spsc[T]) len() int { return int(r.head.Load() - r.tail.Load()) }

// byteRing is the send buffer: the application appends at head, the engine reads any index in
// [tail, head) and advances tail as data is acknowledged. Indices are absolute stream offsets.
type byteRing struct {
	buf  []byte
	mask uint64
	head atomic.Uint64
	tail atomic.Uint64
}

func newByteRing(n int) *byteRing {
	c := 4096
	for c < n {
		c <<= 1
	}
	return &byteRing{buf: make([]byte, c), mask: uint64(c - 1)}
}

// space returns free bytes (producer side).
func (r *byteRing) space() int { return len(r.buf) - int(r.head.Load()-r.tail.Load()) }

// write appends as much of p as fits and returns the count (producer side).
func (r *byteRing) write(p []byte) int {
	h := r.head.Load()
	free := len(r.buf) - int(h-r.tail.Load())
	n := min(free, len(p))
	if n == 0 {
		return 0
	}
	off := int(h & r.mask)
	k := copy(r.buf[off:], p[:n])
	if k < n {
		copy(r.buf, p[k:n])
	}
	r.head.Store(h + uint64(n))
	return n
}

// copyOutSum copies len(dst) bytes starting at idx into dst and returns their partial checksum
// (as data starting at an even offset).
func (r *byteRing) copyOutSum(dst []byte, idx uint64) uint64 {
	off := int(idx & r.mask)
	first := min(len(dst), len(r.buf)-off)
	s := copySum(dst[:first], r.buf[off:off+first])
	if first == len(dst) {
		return s
	}
	s2 := copySum(dst[first:], r.buf[:len(dst)-first])
	if first%2 == 1 {
		s2 = sumOddShift(s2)
	}
	return checksumCombine(s, s2)
}

// copyOut copies n bytes starting at absolute index idx into dst (consumer side).
func (r *byteRing) copyOut(dst []byte, idx uint64) {
	off := int(idx & r.mask)
	k := copy(dst, r.buf[off:])
	if k < len(dst) {
		copy(dst[k:], r.buf)
	}
}
