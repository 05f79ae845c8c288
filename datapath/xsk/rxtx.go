package xsk

import (
	"encoding/binary"
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
		s.putFree(base)
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
			s.putFree(base)
			continue
		}
		s.fill.descs[(prod+n)&s.fill.mask] = base
		n++
	}
	atomic.StoreUint32(s.fill.prod, prod+n)
}

// putFree pushes the frame at chunk base onto the TX free list, once.
func (s *Socket) putFree(base uint64) {
	i := base >> s.frameShift
	if i >= uint64(len(s.state)) || s.state[i]&fsFree != 0 {
		return
	}
	s.state[i] |= fsFree
	s.free = append(s.free, base)
}

// GetTxFrame returns a free frame to build an outgoing Ethernet frame in;
// reslice Data to the frame's length before Transmit. ok is false when all
// TX frames are in flight or retained (Poll or Complete, then retry). With
// TX metadata on, the frame starts TxMetadataLen bytes into its chunk.
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
	base := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	s.state[base>>s.frameShift] &^= fsFree
	addr, end := base+uint64(s.metaLen), base+uint64(s.frameSize)
	return Frame{Addr: addr, Data: s.umem[addr:end:end]}, true
}

// PutTxFrame gives a frame back to the TX pool: one from GetTxFrame that
// was not sent, or one retained with Frame.Keep. A retained frame the
// kernel has not completed yet joins the pool only when its completion is
// reaped (so does a frame still in flight without Keep: then PutTxFrame
// does nothing). Giving a frame back twice is harmless.
func (s *Socket) PutTxFrame(f Frame) {
	i := f.Addr >> s.frameShift
	if i >= uint64(len(s.state)) {
		return
	}
	st := s.state[i]
	if st&fsKept != 0 {
		st &^= fsKept
		s.state[i] = st
		s.kept--
	}
	if st&fsCount != 0 {
		return
	}
	s.putFree(f.Addr &^ s.frameMask)
}

// InFlight reports whether the kernel may still read the frame: it was
// queued by Transmit and its completion has not been reaped yet (Complete,
// Poll, GetTxFrame). A retained frame must not be modified while in
// flight.
func (s *Socket) InFlight(f Frame) bool {
	i := f.Addr >> s.frameShift
	return i < uint64(len(s.state)) && s.state[i]&fsCount != 0
}

// Transmit queues frames (from GetTxFrame or Receive, or retained ones,
// each sending len(Data) bytes) on the TX ring and kicks the kernel. It
// returns how many were queued: the rest stay the caller's (TX ring full,
// or from the first frame that fails with ErrBadFrame or
// ErrNoChecksumOffload on). Queued frames come back to the TX pool through
// Complete, except those with Keep, which stay the caller's (Frame.Keep).
// A frame may be queued again while still in flight.
func (s *Socket) Transmit(frames []Frame) (int, error) {
	if s.fd < 0 {
		return 0, ErrClosed
	}
	n := s.tx.free()
	if n > uint32(len(frames)) {
		n = uint32(len(frames))
	}
	var err error
	prod := s.tx.prodVal()
	var i uint32
	for ; i < n; i++ {
		f := &frames[i]
		idx := f.Addr >> s.frameShift
		off := f.Addr & s.frameMask
		// What the kernel would reject (then skip without a completion,
		// losing the frame), or what would put the metadata in the
		// chunk before.
		if idx >= uint64(len(s.state)) || len(f.Data) == 0 || off < uint64(s.metaLen) ||
			off+uint64(len(f.Data)) > uint64(s.frameSize) {
			err = fmt.Errorf("%w: addr %#x len %d (frame size %d, TX metadata %d)",
				ErrBadFrame, f.Addr, len(f.Data), s.frameSize, s.metaLen)
			break
		}
		var opts uint32
		if f.CsumOffset != 0 {
			if !s.txCsum {
				err = fmt.Errorf("%w: checksum request on frame %#x", ErrNoChecksumOffload, f.Addr)
				break
			}
			// The kernel refuses this with EINVAL and retries the
			// descriptor forever: the TX ring would be stuck.
			if int(f.CsumStart)+int(f.CsumOffset)+2 > len(f.Data) {
				err = fmt.Errorf("%w: checksum at %d+%d in %d bytes", ErrBadFrame, f.CsumStart, f.CsumOffset, len(f.Data))
				break
			}
			opts = unix.XDP_TX_METADATA
			s.st.TxCsumRequests++
		}
		if s.metaLen > 0 {
			// struct xsk_tx_metadata right before the data: u64 flags,
			// then request.csum_start and request.csum_offset. Flags
			// are cleared when nothing is asked, for drivers that look
			// regardless of the descriptor's option.
			m := s.umem[f.Addr-uint64(s.metaLen) : f.Addr]
			if opts != 0 {
				binary.NativeEndian.PutUint64(m[0:], unix.XDP_TXMD_FLAGS_CHECKSUM)
				binary.NativeEndian.PutUint16(m[8:], f.CsumStart)
				binary.NativeEndian.PutUint16(m[10:], f.CsumOffset)
			} else {
				binary.NativeEndian.PutUint64(m[0:], 0)
			}
		}
		st := s.state[idx]
		if f.Keep != (st&fsKept != 0) {
			if f.Keep {
				s.kept++
			} else {
				s.kept--
			}
			st ^= fsKept
		}
		s.state[idx] = st + 1
		s.tx.descs[(prod+i)&s.tx.mask] = unix.XDPDesc{Addr: f.Addr, Len: uint32(len(f.Data)), Options: opts}
		s.st.TxFrames++
		s.st.TxBytes += uint64(len(f.Data))
	}
	atomic.StoreUint32(s.tx.prod, prod+i)
	s.txPending += int(i)
	if err == nil && i < uint32(len(frames)) {
		s.st.TxRingFull++
	}
	if kerr := s.kickTx(); err == nil {
		err = kerr
	}
	return int(i), err
}

// kickTx asks the kernel to send what is on the TX ring. In copy mode the
// kernel sends only from this syscall; with need_wakeup it is skipped when
// the driver does not ask for it.
func (s *Socket) kickTx() error {
	if s.txPending == 0 || (s.needWakeup && !s.tx.needsWakeup()) {
		return nil
	}
	s.st.TxWakeups++
	// Raw: a non-blocking kick must not look like a blocked syscall to the Go
	// scheduler, whose monitor would otherwise wake every 20 µs to retake the
	// P of a thread that kicks thousands of times a second.
	_, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
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

// Complete reaps the kernel's TX completions and returns how many. A frame
// whose last queued transmission completed goes back to the TX pool,
// unless it is retained (Frame.Keep): then it stays the caller's.
func (s *Socket) Complete() int {
	if s.fd < 0 {
		return 0
	}
	n := s.comp.ready()
	cons := s.comp.consVal()
	for i := range n {
		addr := s.comp.descs[(cons+i)&s.comp.mask]
		idx := addr >> s.frameShift
		if idx >= uint64(len(s.state)) {
			continue
		}
		st := s.state[idx]
		if st&fsCount != 0 {
			st--
			s.state[idx] = st
		}
		if st&(fsCount|fsKept) == 0 {
			s.putFree(addr &^ s.frameMask)
		}
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
		unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(s.fd), 0, 0, unix.MSG_DONTWAIT, 0, 0)
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
