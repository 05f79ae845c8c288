//go:build linux

// Package afpacket is an AF_PACKET raw-socket link for the userspace TCP engine
// (datapath/tcp.Link). It is a test and fallback link: every frame costs a syscall and a copy,
// but it runs on any interface, including a veth end in a network namespace.
package afpacket

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/xtgt/xtgt/datapath/link"
	"golang.org/x/sys/unix"
)

// Link is an AF_PACKET socket bound to one interface.
type Link struct {
	fd, efd   int
	mac       [6]byte
	mtu       int
	frameSize int
	arena     []byte
	free      []int
	txArena   []byte
	txFree    []int
	pfds      [2]unix.PollFd
	closed    atomic.Bool

	RxFrames, TxFrames, TxErrors, RxNoBuffer atomic.Uint64
}

// Open opens a raw socket on ifname (in the calling thread's network namespace) with nframes
// receive and transmit frames of frameSize bytes.
func Open(ifname string, nframes, frameSize int) (*Link, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %w", err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("afpacket: %s is not Ethernet", ifname)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("afpacket: socket: %w", err)
	}
	l := &Link{fd: fd, efd: -1, mtu: ifi.MTU, frameSize: frameSize}
	copy(l.mac[:], ifi.HardwareAddr)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		l.Close()
		return nil, fmt.Errorf("afpacket: bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 32<<20)
	l.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("afpacket: eventfd: %w", err)
	}
	l.arena = make([]byte, nframes*frameSize)
	l.txArena = make([]byte, nframes*frameSize)
	for i := nframes - 1; i >= 0; i-- {
		l.free = append(l.free, i)
		l.txFree = append(l.txFree, i)
	}
	l.pfds = [2]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(l.efd), Events: unix.POLLIN}}
	return l, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func index(a, v []byte, fs int) int {
	off := len(a) - cap(v)
	if off < 0 || off >= len(a) {
		return -1
	}
	return off / fs
}

// Receive implements tcp.Link (single-frame packets only).
func (l *Link) Receive(frames [][]byte, _ []bool) int {
	n := 0
	for n < len(frames) {
		if len(l.free) == 0 {
			l.RxNoBuffer.Add(1)
			break
		}
		i := l.free[len(l.free)-1]
		buf := l.arena[i*l.frameSize : (i+1)*l.frameSize]
		k, _, err := unix.Recvfrom(l.fd, buf, unix.MSG_TRUNC)
		if err != nil || k <= 0 {
			break
		}
		if k > l.frameSize {
			continue // truncated (GRO/GSO super-frame): drop
		}
		l.free = l.free[:len(l.free)-1]
		frames[n] = buf[:k]
		n++
	}
	l.RxFrames.Add(uint64(n))
	return n
}

// Release implements tcp.Link.
func (l *Link) Release(frames [][]byte) {
	for _, f := range frames {
		if i := index(l.arena, f, l.frameSize); i >= 0 {
			l.free = append(l.free, i)
		}
	}
}

// TxBuffers implements tcp.Link.
func (l *Link) TxBuffers(bufs [][]byte) int {
	n := 0
	for n < len(bufs) && len(l.txFree) > 0 {
		i := l.txFree[len(l.txFree)-1]
		l.txFree = l.txFree[:len(l.txFree)-1]
		bufs[n] = l.txArena[i*l.frameSize : (i+1)*l.frameSize]
		n++
	}
	return n
}

// ReturnTx implements tcp.Link.
func (l *Link) ReturnTx(bufs [][]byte) {
	for _, b := range bufs {
		if i := index(l.txArena, b, l.frameSize); i >= 0 {
			l.txFree = append(l.txFree, i)
		}
	}
}

// Transmit implements tcp.Link. Frames the kernel refuses are dropped (TCP recovers).
func (l *Link) Transmit(frames []link.TxFrame) error {
	var first error
	for _, tf := range frames {
		f := tf.Buf
		for try := 0; ; try++ {
			_, err := unix.Write(l.fd, f)
			if err == nil {
				l.TxFrames.Add(1)
				break
			}
			if (err == unix.EAGAIN || err == unix.ENOBUFS) && try < 3 {
				time.Sleep(20 * time.Microsecond)
				continue
			}
			l.TxErrors.Add(1)
			if first == nil {
				first = fmt.Errorf("afpacket: send: %w", err)
			}
			break
		}
	}
	for _, tf := range frames {
		if !tf.Keep { // sent synchronously: a kept frame is simply not reused until returned
			if i := index(l.txArena, tf.Buf, l.frameSize); i >= 0 {
				l.txFree = append(l.txFree, i)
			}
		}
	}
	return first
}

// Wait implements tcp.Link.
func (l *Link) Wait(timeout time.Duration) error {
	if l.closed.Load() {
		return ErrClosed
	}
	ts := unix.NsecToTimespec(int64(timeout))
	_, err := unix.Ppoll(l.pfds[:], &ts, nil)
	if l.pfds[1].Revents != 0 {
		var b [8]byte
		_, _ = unix.Read(l.efd, b[:])
	}
	if err != nil && err != unix.EINTR {
		return fmt.Errorf("afpacket: poll: %w", err)
	}
	if l.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Wake implements tcp.Link.
func (l *Link) Wake() {
	var one = [8]byte{1}
	_, _ = unix.Write(l.efd, one[:])
}

// ErrClosed is returned by Wait after Close.
var ErrClosed = errors.New("afpacket: closed")

// Close closes the socket. Call it after the engine stopped.
func (l *Link) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if l.efd >= 0 {
		var one = [8]byte{1}
		_, _ = unix.Write(l.efd, one[:])
	}
	err := unix.Close(l.fd)
	if l.efd >= 0 {
		unix.Close(l.efd)
	}
	return err
}

// FrameSize implements tcp.Link.
func (l *Link) FrameSize() int { return l.frameSize }

// MTU implements tcp.Link.
func (l *Link) MTU() int { return l.mtu }

// Addr implements tcp.Link.
func (l *Link) Addr() [6]byte { return l.mac }

// TxCapacity implements tcp.Link.
func (l *Link) TxCapacity() int { return len(l.txArena) / l.frameSize }

// RxMultiBuffer implements tcp.Link.
func (l *Link) RxMultiBuffer() bool { return false }

// TxFragments implements tcp.Link.
func (l *Link) TxFragments() int { return 1 }

// TxChecksumOffload implements tcp.Link (checksums are computed by the engine).
func (l *Link) TxChecksumOffload() bool { return false }

// RxChecksumVerified implements tcp.Link.
func (l *Link) RxChecksumVerified() bool { return false }
