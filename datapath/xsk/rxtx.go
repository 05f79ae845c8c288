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
//
// Packets come whole: with multi-buffer, a packet longer than a frame is
// several consecutive frames, all but the last with More set. A packet
// that does not fit in what is left of frames stays for the next call; one
// with more frames than len(frames) can ever hold is given back to the
// kernel unread and counted in Stats.RxDropped.
func (s *Socket) Receive(frames []Frame) int {
	if s.fd < 0 || len(frames) == 0 {
		return 0
	}
	ready := s.rx.ready()
	cons := s.rx.consVal()
	room := uint32(len(frames))
	var n, c uint32 // frames returned, descriptors consumed
	for c < ready {
		d := &s.rx.descs[(cons+c)&s.rx.mask]
		if d.Options&unix.XDP_PKT_CONTD == 0 {
			// A packet of one frame.
			if n == room {
				break
			}
			frames[n] = Frame{Addr: d.Addr, Data: s.umem[d.Addr : d.Addr+uint64(d.Len) : d.Addr+uint64(d.Len)]}
			s.st.RxFrames++
			s.st.RxBytes += uint64(d.Len)
			n++
			c++
			continue
		}
		// A multi-buffer packet: find its last frame. The kernel
		// publishes packets whole; should the end not be there yet,
		// it stays for the next call.
		e := c + 1
		for e < ready && s.rx.descs[(cons+e)&s.rx.mask].Options&unix.XDP_PKT_CONTD != 0 {
			e++
		}
		if e == ready {
			break
		}
		k := e - c + 1
		if k > room {
			for ; c <= e; c++ {
				s.Release(Frame{Addr: s.rx.descs[(cons+c)&s.rx.mask].Addr})
			}
			s.st.RxDropped++
			continue
		}
		if n+k > room {
			break
		}
		for ; c <= e; c++ {
			d := &s.rx.descs[(cons+c)&s.rx.mask]
			frames[n] = Frame{Addr: d.Addr, Data: s.umem[d.Addr : d.Addr+uint64(d.Len) : d.Addr+uint64(d.Len)],
				More: c < e}
			s.st.RxFrames++
			s.st.RxBytes += uint64(d.Len)
			n++
		}
		s.st.RxMultiPackets++
	}
	atomic.StoreUint32(s.rx.cons, cons+c)
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
// or from the packet of the first frame that fails with ErrBadFrame or
// ErrNoChecksumOffload on). Queued frames come back to the TX pool through
// Complete, except those with Keep, which stay the caller's (Frame.Keep).
// A frame may be queued again while still in flight.
//
// With multi-buffer (MultiBuffer), a packet is a run of frames all but the
// last of which have More set, at most MaxTxFrags. A packet is queued
// whole or not at all: when the TX ring lacks room for all of it,
// Transmit stops before it. Keep and completions stay per frame.
func (s *Socket) Transmit(frames []Frame) (int, error) {
	if s.fd < 0 {
		return 0, ErrClosed
	}
	room := s.tx.free()
	prod := s.tx.prodVal()
	var err error
	var q uint32 // descriptors queued = frames[:q] queued
	for int(q) < len(frames) {
		first := int(q)
		last, perr := s.packetEnd(frames, first)
		if perr != nil {
			err = perr
			break
		}
		k := uint32(last - first + 1)
		if k > room-q {
			s.st.TxRingFull++
			break
		}
		if err = s.checkPacket(frames[first : last+1]); err != nil {
			break
		}
		for j := first; j <= last; j++ {
			s.queueDesc(&frames[j], prod+uint32(j), j == first)
		}
		if k > 1 {
			s.st.TxMultiPackets++
		}
		q += k
	}
	atomic.StoreUint32(s.tx.prod, prod+q)
	s.txPending += int(q)
	if kerr := s.kickTx(); err == nil {
		err = kerr
	}
	return int(q), err
}

// packetEnd returns the index of the last frame of the packet that starts
// at frames[first], or ErrBadFrame for a packet the kernel would not send
// whole.
func (s *Socket) packetEnd(frames []Frame, first int) (int, error) {
	last := first
	for frames[last].More {
		switch {
		case !s.multiBuf:
			return 0, fmt.Errorf("%w: frame %#x continues its packet (More) on a socket without multi-buffer",
				ErrBadFrame, frames[last].Addr)
		case last+1 == len(frames):
			return 0, fmt.Errorf("%w: frame %#x continues its packet (More) but is the last given",
				ErrBadFrame, frames[last].Addr)
		case last+1-first >= s.maxTxFrags:
			return 0, fmt.Errorf("%w: packet of more than %d frames", ErrBadFrame, s.maxTxFrags)
		}
		last++
	}
	return last, nil
}

// checkPacket refuses what the kernel would reject (then skip without a
// completion, losing the frame, or retry forever), or what would put the
// metadata in the chunk before.
func (s *Socket) checkPacket(pkt []Frame) error {
	for j := range pkt {
		f := &pkt[j]
		off := f.Addr & s.frameMask
		if f.Addr>>s.frameShift >= uint64(len(s.state)) || len(f.Data) == 0 || off < uint64(s.metaLen) ||
			off+uint64(len(f.Data)) > uint64(s.frameSize) {
			return fmt.Errorf("%w: addr %#x len %d (frame size %d, TX metadata %d)",
				ErrBadFrame, f.Addr, len(f.Data), s.frameSize, s.metaLen)
		}
		if f.CsumOffset == 0 {
			continue
		}
		switch {
		case j > 0:
			// The kernel reads the metadata of a packet's first
			// descriptor only: the request would be ignored.
			return fmt.Errorf("%w: checksum request on frame %#x, %d of its packet (only the first may carry one)",
				ErrBadFrame, f.Addr, j)
		case !s.txCsum:
			return fmt.Errorf("%w: checksum request on frame %#x", ErrNoChecksumOffload, f.Addr)
		case int(f.CsumStart)+int(f.CsumOffset)+2 > len(f.Data):
			// The kernel refuses this with EINVAL and retries the
			// descriptor forever: the TX ring would be stuck. It
			// checks against the first descriptor's length.
			return fmt.Errorf("%w: checksum at %d+%d in %d bytes", ErrBadFrame, f.CsumStart, f.CsumOffset, len(f.Data))
		}
	}
	return nil
}

// queueDesc writes f's descriptor at TX ring position pos (and its metadata)
// and accounts for it; f was checked by checkPacket.
func (s *Socket) queueDesc(f *Frame, pos uint32, first bool) {
	var opts uint32
	if first && f.CsumOffset != 0 {
		opts = unix.XDP_TX_METADATA
		s.st.TxCsumRequests++
	}
	if s.metaLen > 0 {
		// struct xsk_tx_metadata right before the data: u64 flags,
		// then request.csum_start and request.csum_offset. Flags are
		// cleared when nothing is asked, for drivers that look
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
	if f.More {
		opts |= unix.XDP_PKT_CONTD
	}
	idx := f.Addr >> s.frameShift
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
	s.tx.descs[pos&s.tx.mask] = unix.XDPDesc{Addr: f.Addr, Len: uint32(len(f.Data)), Options: opts}
	s.st.TxFrames++
	s.st.TxBytes += uint64(len(f.Data))
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
