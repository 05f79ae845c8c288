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

// free returns how many more values fit (producer side).
func (r *spsc[T]) free() int { return len(r.buf) - r.len() }

// byteRing is the staging ring of a send queue: the application copies small writes in at head,
// the engine frees space at tail as it takes them. Indices are absolute byte counts.
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

// put copies p in if it fits whole and returns the one or two views it occupies (producer side).
func (r *byteRing) put(p []byte) (a, b []byte, ok bool) {
	h := r.head.Load()
	if len(r.buf)-int(h-r.tail.Load()) < len(p) {
		return nil, nil, false
	}
	off := int(h & r.mask)
	k := copy(r.buf[off:], p)
	a = r.buf[off : off+k : off+k]
	if k < len(p) {
		copy(r.buf, p[k:])
		b = r.buf[: len(p)-k : len(p)-k]
	}
	r.head.Store(h + uint64(len(p)))
	return a, b, true
}
