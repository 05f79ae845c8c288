package xsk

import (
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Receive moves up to len(frames) received frames into frames and returns
// how many. Each Data is a view into UMEM, valid until the frame is given
// back with Release (or Transmit). It never blocks; see Poll.
func (s *Socket) Receive(frames []Frame) int {
	if s.fd < 0 {
		return 0
	}
	n := s.rx.ready()
	if n > uint32(len(frames)) {
		n = uint32(len(frames))
	}
	cons := s.rx.consVal()
	for i := range n {
		d := s.rx.descs[(cons+i)&s.rx.mask]
		frames[i] = Frame{Addr: d.Addr, Data: s.umem[d.Addr : d.Addr+uint64(d.Len) : d.Addr+uint64(d.Len)]}
		s.st.RxFrames++
		s.st.RxBytes += uint64(d.Len)
	}
	atomic.StoreUint32(s.rx.cons, cons+n)
	return int(n)
}

// Release gives a received frame back to the kernel for reuse.
func (s *Socket) Release(f Frame) {
	if s.fd < 0 {
		return
	}
	base := f.Addr &^ s.frameMask
	if s.fill.free() == 0 {
		// Only if the caller releases frames it did not receive.
		s.free = append(s.free, base)
		return
	}
	prod := s.fill.prodVal()
	s.fill.descs[prod&s.fill.mask] = base
	atomic.StoreUint32(s.fill.prod, prod+1)
}

// ReleaseBatch gives received frames back to the kernel for reuse.
func (s *Socket) ReleaseBatch(frames []Frame) {
	if s.fd < 0 {
		return
	}
	prod := s.fill.prodVal()
	room := s.fill.free()
	var n uint32
	for _, f := range frames {
		base := f.Addr &^ s.frameMask
		if n == room {
			s.free = append(s.free, base)
			continue
		}
		s.fill.descs[(prod+n)&s.fill.mask] = base
		n++
	}
	atomic.StoreUint32(s.fill.prod, prod+n)
}

// GetTxFrame returns a free frame to build an outgoing Ethernet frame in;
// reslice Data to the frame's length before Transmit. ok is false when all
// TX frames are in flight (Poll or Complete, then retry).
func (s *Socket) GetTxFrame() (f Frame, ok bool) {
	if s.fd < 0 {
		return Frame{}, false
	}
	if len(s.free) == 0 {
		s.Complete()
		if len(s.free) == 0 {
			return Frame{}, false
		}
	}
	addr := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	return Frame{Addr: addr, Data: s.umem[addr : addr+uint64(s.frameSize) : addr+uint64(s.frameSize)]}, true
}

// PutTxFrame returns an unused frame from GetTxFrame.
func (s *Socket) PutTxFrame(f Frame) { s.free = append(s.free, f.Addr&^s.frameMask) }

// Transmit queues frames (from GetTxFrame or Receive, each sending
// len(Data) bytes) on the TX ring and kicks the kernel. It returns how many
// were queued: the rest (TX ring full) stay the caller's. Queued frames come
// back to the TX pool through Complete.
func (s *Socket) Transmit(frames []Frame) (int, error) {
	if s.fd < 0 {
		return 0, ErrClosed
	}
	n := s.tx.free()
	if n > uint32(len(frames)) {
		n = uint32(len(frames))
	}
	prod := s.tx.prodVal()
	for i := range n {
		f := frames[i]
		s.tx.descs[(prod+i)&s.tx.mask] = unix.XDPDesc{Addr: f.Addr, Len: uint32(len(f.Data))}
		s.st.TxFrames++
		s.st.TxBytes += uint64(len(f.Data))
	}
	atomic.StoreUint32(s.tx.prod, prod+n)
	s.txPending += int(n)
	if n < uint32(len(frames)) {
		s.st.TxRingFull++
	}
	return int(n), s.kickTx()
}

// kickTx asks the kernel to send what is on the TX ring. In copy mode the
// kernel sends only from this syscall; with need_wakeup it is skipped when
// the driver does not ask for it.
func (s *Socket) kickTx() error {
	if s.txPending == 0 || (s.needWakeup && !s.tx.needsWakeup()) {
		return nil
	}
	s.st.TxWakeups++
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	switch e {
	case 0, unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
		// Transient: the frames stay on the ring and go with the
		// next kick.
		if e != 0 {
			s.st.TxBusy++
		}
		return nil
	case unix.ENETDOWN, unix.ENXIO:
		return fmt.Errorf("xsk: transmit: %w: %w", ErrLinkDown, e)
	}
	return fmt.Errorf("xsk: transmit: %w", e)
}

// Complete moves frames the kernel has sent back to the TX pool and returns
// how many.
func (s *Socket) Complete() int {
	if s.fd < 0 {
		return 0
	}
	n := s.comp.ready()
	cons := s.comp.consVal()
	for i := range n {
		s.free = append(s.free, s.comp.descs[(cons+i)&s.comp.mask]&^s.frameMask)
	}
	atomic.StoreUint32(s.comp.cons, cons+n)
	s.txPending -= int(n)
	return int(n)
}

// Wakeup kicks the kernel for RX (when the fill ring asks for it) and for
// pending TX, without blocking.
func (s *Socket) Wakeup() error {
	if s.fd < 0 {
		return ErrClosed
	}
	if s.needWakeup && s.fill.needsWakeup() {
		s.st.RxWakeups++
		unix.Syscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
	}
	return s.kickTx()
}

// Poll waits up to timeout (negative: forever, zero: not at all) for
// received frames, reaps TX completions and returns the number of frames
// ready for Receive.
func (s *Socket) Poll(timeout time.Duration) (int, error) {
	if s.fd < 0 {
		return 0, ErrClosed
	}
	if err := s.kickTx(); err != nil {
		return 0, err
	}
	if n := s.rx.ready(); n > 0 || timeout == 0 {
		s.Complete()
		return int(n), nil
	}
	ms := -1
	if timeout > 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	s.pollfd[0].Events = unix.POLLIN
	s.pollfd[0].Revents = 0
	s.st.Polls++
	if _, err := unix.Poll(s.pollfd[:], ms); err != nil && err != unix.EINTR {
		return 0, fmt.Errorf("xsk: poll: %w", err)
	}
	s.Complete()
	return int(s.rx.ready()), nil
}
