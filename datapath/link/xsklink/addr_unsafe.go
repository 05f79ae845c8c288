//go:build linux

package xsklink

import (
	"unsafe"

	"github.com/xtgt/xtgt/datapath/xsk"
)

// learn records the UMEM base address from a frame (its Data starts at offset Addr).
func (l *Link) learn(f xsk.Frame) {
	if l.base == 0 && cap(f.Data) > 0 {
		l.base = uintptr(unsafe.Pointer(unsafe.SliceData(f.Data))) - uintptr(f.Addr)
	}
}

// addrOf returns the UMEM offset of a view's first byte. UMEM is mmap'd, not Go heap, so the
// address is stable.
func (l *Link) addrOf(v []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(v))) - l.base)
}
