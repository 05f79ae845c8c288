//go:build linux

// Package xsklink adapts an AF_XDP socket (datapath/xsk) to the userspace TCP engine's
// batch-shaped Link (datapath/tcp.Link): received frames are UMEM views handed to the engine
// and released back to the fill ring; transmit frames are built directly in UMEM.
package xsklink

import (
	"fmt"
	"net"
	"time"

	"github.com/xtgt/xtgt/datapath/link"
	"github.com/xtgt/xtgt/datapath/xsk"
	"golang.org/x/sys/unix"
)

// Link is one AF_XDP queue as a tcp.Link. One engine goroutine drives it; Wake may be called
// from anywhere.
type Link struct {
	s       *xsk.Socket
	mac     [6]byte
	mtu     int
	efd     int
	pfds    [2]unix.PollFd
	base    uintptr // address of UMEM offset 0 (learned from the first frame)
	rx      []xsk.Frame
	tx      []xsk.Frame
	txRoom  int
	drop    []xsk.Frame
	TxDrops uint64 // frames the TX ring had no room for (TCP retransmits them)
	// RxMultiDrops counts multi-buffer packets dropped because the caller of Receive takes
	// single-frame packets only.
	RxMultiDrops uint64
	closeErr     error
}

// New wraps s (bound to ifname's queue). Close closes the wrapper, not the socket.
func New(s *xsk.Socket, ifname string) (*Link, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("xsklink: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("xsklink: %s is not Ethernet", ifname)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("xsklink: eventfd: %w", err)
	}
	l := &Link{s: s, mtu: ifi.MTU, efd: efd, rx: make([]xsk.Frame, 256), tx: make([]xsk.Frame, 256),
		drop: make([]xsk.Frame, 0, 256)}
	copy(l.mac[:], ifi.HardwareAddr)
	l.txRoom = s.FrameSize()
	if f, ok := s.GetTxFrame(); ok {
		l.txRoom = len(f.Data)
		s.PutTxFrame(f)
	}
	// A received frame starts XDP_PACKET_HEADROOM into its chunk: segments the engine
	// receives (its advertised MSS) and sends in one buffer are sized to the smaller room.
	l.txRoom = min(l.txRoom, s.FrameSize()-rxHeadroom)
	l.pfds = [2]unix.PollFd{{Fd: int32(s.Fd()), Events: unix.POLLIN}, {Fd: int32(efd), Events: unix.POLLIN}}
	return l, nil
}

// rxHeadroom is the kernel's XDP_PACKET_HEADROOM in front of every received frame.
const rxHeadroom = 256

// Receive implements tcp.Link. Multi-buffer packets are passed on when more is given, dropped
// otherwise (see RxMultiDrops).
func (l *Link) Receive(frames [][]byte, more []bool) int {
	n := l.s.Receive(l.rx[:min(len(frames), len(l.rx))])
	k := 0
	inMulti := false // xsk.Receive returns whole packets only
	for i := 0; i < n; i++ {
		f := l.rx[i]
		l.rx[i] = xsk.Frame{}
		if more != nil {
			l.learn(f)
			frames[k], more[k] = f.Data, f.More
			k++
			continue
		}
		if f.More || inMulti {
			l.drop = append(l.drop, f)
			if !f.More {
				l.RxMultiDrops++
			}
			inMulti = f.More
			continue
		}
		l.learn(f)
		frames[k] = f.Data
		k++
	}
	if len(l.drop) > 0 {
		l.s.ReleaseBatch(l.drop)
		clear(l.drop)
		l.drop = l.drop[:0]
	}
	return k
}

// Release implements tcp.Link.
func (l *Link) Release(frames [][]byte) {
	for len(frames) > 0 {
		k := min(len(frames), len(l.rx))
		for i := 0; i < k; i++ {
			l.rx[i] = xsk.Frame{Addr: l.addrOf(frames[i])}
		}
		l.s.ReleaseBatch(l.rx[:k])
		clear(l.rx[:k])
		frames = frames[k:]
	}
}

// TxBuffers implements tcp.Link.
func (l *Link) TxBuffers(bufs [][]byte) int {
	n := 0
	for n < len(bufs) {
		f, ok := l.s.GetTxFrame()
		if !ok {
			break
		}
		l.learn(f)
		bufs[n] = f.Data
		n++
	}
	return n
}

// ReturnTx implements tcp.Link.
func (l *Link) ReturnTx(bufs [][]byte) {
	for _, b := range bufs {
		l.s.PutTxFrame(xsk.Frame{Addr: l.addrOf(b)})
	}
}

// Transmit implements tcp.Link. Frames the TX ring has no room for, even after letting the
// kernel drain it, are dropped (TCP resends them); a kept one stays the engine's, whose
// retransmission copies from it.
func (l *Link) Transmit(frames []link.TxFrame) error {
	var first error
	for len(frames) > 0 {
		k := min(len(frames), len(l.tx))
		for k < len(frames) && k > 0 && frames[k-1].More {
			k-- // never split a multi-buffer packet between two batches
		}
		if k == 0 {
			return fmt.Errorf("xsklink: packet of more than %d frames", len(l.tx))
		}
		for i := 0; i < k; i++ {
			f := &frames[i]
			l.tx[i] = xsk.Frame{Addr: l.addrOf(f.Buf), Data: f.Buf, Keep: f.Keep,
				CsumStart: f.CsumStart, CsumOffset: f.CsumOffset, More: f.More}
		}
		sent := 0
		for try := 0; sent < k && try < 16; try++ {
			if try > 0 {
				// TX ring full: let the kernel drain it (copy mode sends a batch per kick).
				_ = l.s.Wakeup()
				l.s.Complete()
			}
			n, err := l.s.Transmit(l.tx[sent:k])
			sent += n
			if err != nil {
				if first == nil {
					first = err
				}
				break
			}
		}
		for i := sent; i < k; i++ {
			if !l.tx[i].Keep {
				l.s.PutTxFrame(l.tx[i])
			}
			l.TxDrops++
		}
		clear(l.tx[:k])
		frames = frames[k:]
	}
	return first
}

// Wait implements tcp.Link: it waits for RX or Wake, then reaps TX completions.
func (l *Link) Wait(timeout time.Duration) error {
	if err := l.s.Wakeup(); err != nil {
		return err
	}
	ts := unix.NsecToTimespec(int64(timeout))
	l.pfds[0].Revents, l.pfds[1].Revents = 0, 0
	if _, err := unix.Ppoll(l.pfds[:], &ts, nil); err != nil && err != unix.EINTR {
		return fmt.Errorf("xsklink: poll: %w", err)
	}
	if l.pfds[1].Revents != 0 {
		var b [8]byte
		_, _ = unix.Read(l.efd, b[:])
	}
	_, err := l.s.Poll(0)
	return err
}

// Wake implements tcp.Link.
func (l *Link) Wake() {
	one := [8]byte{1}
	_, _ = unix.Write(l.efd, one[:])
}

// Close releases the wake descriptor (the socket stays open).
func (l *Link) Close() error {
	if l.efd >= 0 {
		unix.Close(l.efd)
		l.efd = -1
	}
	return nil
}

// FrameSize implements tcp.Link: the room of a transmit buffer (the UMEM frame less any TX
// metadata in front of it).
func (l *Link) FrameSize() int { return l.txRoom }

// TxCapacity implements tcp.Link.
func (l *Link) TxCapacity() int { return l.s.TxFrames() }

// RxMultiBuffer implements tcp.Link.
func (l *Link) RxMultiBuffer() bool { return l.s.MultiBuffer() }

// TxFragments implements tcp.Link: several with multi-buffer AF_XDP (xsk.Config.MultiBuffer).
func (l *Link) TxFragments() int { return l.s.MaxTxFrags() }

// TxChecksumOffload implements tcp.Link.
func (l *Link) TxChecksumOffload() bool { return l.s.TxChecksumOffload() }

// MTU implements tcp.Link.
func (l *Link) MTU() int { return l.mtu }

// Addr implements tcp.Link.
func (l *Link) Addr() [6]byte { return l.mac }

// RxChecksumVerified implements tcp.Link.
func (l *Link) RxChecksumVerified() bool { return false }
