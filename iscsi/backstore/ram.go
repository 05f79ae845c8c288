package backstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ramPageShift sets the RAM disk page size (1 MiB).
const ramPageShift = 20

const ramPageSize = 1 << ramPageShift

// ErrOutOfRange is returned for I/O beyond the end of a store.
var ErrOutOfRange = errors.New("i/o beyond end of store")

// ErrClosed is returned for I/O on a closed store.
var ErrClosed = errors.New("store closed")

// ramLockStripes is the number of reader/writer locks the pages are striped over.
const ramLockStripes = 256

// RAM is a RAM disk whose 1 MiB pages are allocated on first write; reading
// an unwritten page yields zeros. Safe for concurrent use: each page's bytes
// are copied under its stripe lock (shared for reads), so overlapping
// commands see one another's data whole per page, never a torn copy.
type RAM struct {
	size   int64
	pages  []atomic.Pointer[[ramPageSize]byte]
	locks  [ramLockStripes]sync.RWMutex
	closed atomic.Bool
}

// NewRAM returns a RAM disk of size bytes. No memory is committed until
// pages are written.
func NewRAM(size int64) (*RAM, error) {
	if size <= 0 {
		return nil, fmt.Errorf("new ram disk: size %d must be positive", size)
	}
	n := (size + ramPageSize - 1) >> ramPageShift
	return &RAM{size: size, pages: make([]atomic.Pointer[[ramPageSize]byte], n)}, nil
}

func (r *RAM) check(n int, off int64) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if off < 0 || off > r.size || int64(n) > r.size-off {
		return ErrOutOfRange
	}
	return nil
}

// pageSpan returns the page holding disk offset o, the offset in it, and how many of left
// bytes from o lie in that page.
func pageSpan(o int64, left int) (idx int64, po, n int) {
	idx, po = o>>ramPageShift, int(o&(ramPageSize-1))
	return idx, po, min(left, ramPageSize-po)
}

// lock returns the stripe lock guarding page idx.
func (r *RAM) lock(idx int64) *sync.RWMutex { return &r.locks[idx%ramLockStripes] }

// ReadAt copies from the disk into p.
func (r *RAM) ReadAt(p []byte, off int64) (int, error) {
	if err := r.check(len(p), off); err != nil {
		return 0, err
	}
	done := 0
	for done < len(p) {
		idx, po, n := pageSpan(off+int64(done), len(p)-done)
		l := r.lock(idx)
		l.RLock()
		if pg := r.pages[idx].Load(); pg != nil {
			copy(p[done:done+n], pg[po:po+n])
		} else {
			clear(p[done : done+n])
		}
		l.RUnlock()
		done += n
	}
	return done, nil
}

// WriteAt copies p onto the disk, allocating pages as needed.
func (r *RAM) WriteAt(p []byte, off int64) (int, error) {
	if err := r.check(len(p), off); err != nil {
		return 0, err
	}
	done := 0
	for done < len(p) {
		idx, po, n := pageSpan(off+int64(done), len(p)-done)
		l := r.lock(idx)
		l.Lock()
		pg := r.pages[idx].Load()
		if pg == nil {
			pg = new([ramPageSize]byte)
			r.pages[idx].Store(pg)
		}
		copy(pg[po:po+n], p[done:done+n])
		l.Unlock()
		done += n
	}
	return done, nil
}

// Flush is a no-op: RAM has no stable storage.
func (r *RAM) Flush() error {
	if r.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Unmap releases whole pages in [off, off+length) and zeroes partial ones.
func (r *RAM) Unmap(off, length int64) error {
	if length < 0 {
		return ErrOutOfRange
	}
	if err := r.check(0, off); err != nil {
		return err
	}
	if length > r.size-off {
		return ErrOutOfRange
	}
	end := off + length
	for o := off; o < end; {
		idx, po := o>>ramPageShift, o&(ramPageSize-1)
		n := min(end-o, ramPageSize-po)
		l := r.lock(idx)
		l.Lock()
		if po == 0 && (n == ramPageSize || o+n == r.size) {
			r.pages[idx].Store(nil)
		} else if pg := r.pages[idx].Load(); pg != nil {
			clear(pg[po : po+n])
		}
		l.Unlock()
		o += n
	}
	return nil
}

// Mapped reports whether the page holding off is allocated and how many
// bytes from off (at most length) share that state.
func (r *RAM) Mapped(off, length int64) (bool, int64, error) {
	if length <= 0 || off < 0 || off >= r.size {
		return false, 0, ErrOutOfRange
	}
	length = min(length, r.size-off)
	state := r.pages[off>>ramPageShift].Load() != nil
	var ext int64
	for o := off; o < off+length; {
		idx := o >> ramPageShift
		if (r.pages[idx].Load() != nil) != state {
			break
		}
		next := (idx + 1) << ramPageShift
		ext += min(next, off+length) - o
		o = next
	}
	return state, ext, nil
}

// Allocated returns the bytes of memory held by written pages.
func (r *RAM) Allocated() int64 {
	var n int64
	for i := range r.pages {
		if r.pages[i].Load() != nil {
			n += ramPageSize
		}
	}
	return n
}

// Size returns the disk size in bytes.
func (r *RAM) Size() int64 { return r.size }

// Close releases all pages.
func (r *RAM) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	for i := range r.pages {
		r.pages[i].Store(nil)
	}
	return nil
}

// Provisioning reports a thin-provisioned store whose unmapped pages read as
// zeros.
func (r *RAM) Provisioning() (thin, zeroes bool) { return true, true }
