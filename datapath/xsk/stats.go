package xsk

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Stats are the socket's counters: ours, kept per operation, and the
// kernel's (XDP_STATISTICS).
type Stats struct {
	RxFrames, RxBytes uint64
	TxFrames, TxBytes uint64 // queued on the TX ring
	TxRingFull        uint64 // Transmit calls that could not queue everything
	TxWakeups         uint64 // sendto kicks
	TxBusy            uint64 // kicks the kernel answered EAGAIN/EBUSY/ENOBUFS
	RxWakeups         uint64 // recvfrom kicks for the fill ring
	Polls             uint64 // poll(2) calls
	TxCsumRequests    uint64 // frames queued with a checksum offload request
	TxKept            uint64 // frames retained now (sent with Frame.Keep, not given back)
	RxMultiPackets    uint64 // multi-buffer packets (several frames) received
	TxMultiPackets    uint64 // multi-buffer packets (several frames) queued
	RxDropped         uint64 // packets with more frames than the Receive slice holds, given back unread

	Kernel unix.XDPStatistics // rx_dropped, invalid descs, ring full, fill empty...
}

// Stats returns the counters.
func (s *Socket) Stats() (Stats, error) {
	st := s.st
	st.TxKept = uint64(s.kept)
	if s.fd < 0 {
		return st, ErrClosed
	}
	n := uint32(unsafe.Sizeof(st.Kernel))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_XDP, unix.XDP_STATISTICS,
		uintptr(unsafe.Pointer(&st.Kernel)), uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return st, fmt.Errorf("xsk: statistics: %w", e)
	}
	return st, nil
}
