package xsk

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ringPtrs are the shared producer/consumer/flags words of one ring. The
// kernel side is read and written with atomics (acquire/release order).
type ringPtrs struct {
	prod, cons, flags *uint32
	mask              uint32
}

func ptrs(b []byte, off unix.XDPRingOffset, n uint32) ringPtrs {
	base := unsafe.Pointer(&b[0])
	return ringPtrs{
		prod:  (*uint32)(unsafe.Add(base, off.Producer)),
		cons:  (*uint32)(unsafe.Add(base, off.Consumer)),
		flags: (*uint32)(unsafe.Add(base, off.Flags)),
		mask:  n - 1,
	}
}

// We own the producer of fill and TX and the consumer of RX and completion,
// so a plain read of our own index is exact; the peer's index needs an
// atomic load.
func (r *ringPtrs) prodVal() uint32 { return *r.prod }
func (r *ringPtrs) consVal() uint32 { return *r.cons }

// free returns the slots a producer may write.
func (r *ringPtrs) free() uint32 { return r.mask + 1 - (*r.prod - atomic.LoadUint32(r.cons)) }

// ready returns the entries a consumer may read.
func (r *ringPtrs) ready() uint32 { return atomic.LoadUint32(r.prod) - *r.cons }

func (r *ringPtrs) needsWakeup() bool {
	return atomic.LoadUint32(r.flags)&unix.XDP_RING_NEED_WAKEUP != 0
}

type addrRing struct {
	ringPtrs
	descs []uint64
}

type descRing struct {
	ringPtrs
	descs []unix.XDPDesc
}
