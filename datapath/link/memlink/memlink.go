// Package memlink is an in-memory Ethernet link pair for tests of the userspace TCP engine: two
// endpoints with their own frame arenas, batch-shaped like an AF_XDP queue, with an optional
// per-frame drop hook for loss injection.
package memlink

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtgt/xtgt/datapath/link"
)

// Link is one endpoint of a pair. It implements datapath/tcp.Link.
type Link struct {
	mac       [6]byte
	frameSize int
	mtu       int

	mu      sync.Mutex
	arena   []byte // rx frames
	free    []int
	rxq     [][]byte
	rxMore  []bool
	txa     []byte // tx frames
	txFree  []int
	scratch []byte // a packet being assembled from its transmit buffers
	peer    *Link
	closed  bool

	notify chan struct{}
	timer  *time.Timer

	// Drop, if set, is called for every frame this endpoint transmits; true drops it.
	Drop func(frame []byte) bool

	// CsumOffload makes the endpoint offer TCP checksum completion (tcp.Link.TxChecksumOffload),
	// done in software as a NIC would; set it before the engine is created.
	CsumOffload bool
	// TxFrags lets a packet span up to this many transmit buffers (tcp.Link.TxFragments,
	// default 1); the peer receives it whole, as from a wire.
	TxFrags int
	// RxFragSize, if set, splits every packet this endpoint receives over frames of at most
	// that many bytes (multi-buffer receive, tcp.Link.RxMultiBuffer); set it before the
	// engine is created.
	RxFragSize int

	Sent, Dropped, NoBuffer, Offloaded atomic.Uint64
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("memlink: closed")

// NewPair returns two connected endpoints with n frames of frameSize bytes per direction.
func NewPair(macA, macB [6]byte, n, frameSize, mtu int) (*Link, *Link) {
	return NewPairSizes(macA, macB, n, frameSize, frameSize, mtu)
}

// NewPairSizes is NewPair with each endpoint's own frame size (its transmit buffers and the
// frames it receives into).
func NewPairSizes(macA, macB [6]byte, n, frameSizeA, frameSizeB, mtu int) (*Link, *Link) {
	a, b := newLink(macA, n, frameSizeA, mtu), newLink(macB, n, frameSizeB, mtu)
	a.peer, b.peer = b, a
	return a, b
}

func newLink(mac [6]byte, n, fs, mtu int) *Link {
	l := &Link{mac: mac, frameSize: fs, mtu: mtu, arena: make([]byte, n*fs), txa: make([]byte, n*fs),
		scratch: make([]byte, 64<<10),
		notify:  make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	l.timer.Stop()
	for i := n - 1; i >= 0; i-- {
		l.free = append(l.free, i)
		l.txFree = append(l.txFree, i)
	}
	l.rxq = make([][]byte, 0, n)
	l.rxMore = make([]bool, 0, n)
	return l
}

// index returns the frame index of a view of arena a (views keep the arena's end as capacity).
func index(a []byte, v []byte, fs int) int {
	off := len(a) - cap(v)
	if off < 0 || off >= len(a) {
		return -1
	}
	return off / fs
}

// Receive implements tcp.Link; with RxFragSize set, packets arrive over several frames.
func (l *Link) Receive(frames [][]byte, more []bool) int {
	l.mu.Lock()
	n := min(len(frames), len(l.rxq))
	for n > 0 && l.rxMore[n-1] {
		n-- // whole packets only
	}
	copy(frames, l.rxq[:n])
	if more != nil {
		copy(more, l.rxMore[:n])
	}
	k := copy(l.rxq, l.rxq[n:])
	copy(l.rxMore, l.rxMore[n:])
	clear(l.rxq[k:])
	clear(l.rxMore[k:])
	l.rxq = l.rxq[:k]
	l.rxMore = l.rxMore[:k]
	l.mu.Unlock()
	return n
}

// Release implements tcp.Link.
func (l *Link) Release(frames [][]byte) {
	l.mu.Lock()
	for _, f := range frames {
		if i := index(l.arena, f, l.frameSize); i >= 0 {
			l.free = append(l.free, i)
		}
	}
	l.mu.Unlock()
}

// TxBuffers implements tcp.Link.
func (l *Link) TxBuffers(bufs [][]byte) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(bufs) && len(l.txFree) > 0 {
		i := l.txFree[len(l.txFree)-1]
		l.txFree = l.txFree[:len(l.txFree)-1]
		bufs[n] = l.txa[i*l.frameSize : (i+1)*l.frameSize]
		n++
	}
	return n
}

// ReturnTx implements tcp.Link.
func (l *Link) ReturnTx(bufs [][]byte) {
	l.mu.Lock()
	for _, b := range bufs {
		if i := index(l.txa, b, l.frameSize); i >= 0 {
			l.txFree = append(l.txFree, i)
		}
	}
	l.mu.Unlock()
}

// Transmit implements tcp.Link: each packet (one frame, or several joined by More) is copied
// into one frame of the peer's receive arena.
func (l *Link) Transmit(frames []link.TxFrame) error {
	p := l.peer
	delivered := false
	p.mu.Lock()
	for k := 0; k < len(frames); {
		first := k
		size := 0
		for ; k < len(frames); k++ {
			size += len(frames[k].Buf)
			if !frames[k].More {
				k++
				break
			}
		}
		pkt := frames[first:k]
		if l.Drop != nil && l.Drop(pkt[0].Buf) {
			l.Dropped.Add(1)
			continue
		}
		fs := p.frameSize
		if p.RxFragSize > 0 {
			fs = min(fs, p.RxFragSize)
		}
		nfr := (size + fs - 1) / fs
		if len(p.free) < nfr || p.closed || p.RxFragSize == 0 && size > p.frameSize {
			l.NoBuffer.Add(1)
			continue
		}
		// Assemble in the receive frame, or, when the packet arrives split, in the scratch
		// frame and then scatter it over the receive frames.
		var v []byte
		if nfr == 1 {
			i := p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			v = p.arena[i*p.frameSize : i*p.frameSize+size]
		} else {
			v = l.scratch[:size]
		}
		at := 0
		for _, tf := range pkt {
			at += copy(v[at:], tf.Buf)
		}
		if tf := pkt[0]; tf.CsumOffset != 0 && l.CsumOffload {
			// What a NIC does for CHECKSUM_PARTIAL: the field holds the pseudo-header sum.
			at := int(tf.CsumStart) + int(tf.CsumOffset)
			binary.BigEndian.PutUint16(v[at:], checksum(v[tf.CsumStart:]))
			l.Offloaded.Add(1)
		}
		if nfr == 1 {
			p.rxq = append(p.rxq, v)
			p.rxMore = append(p.rxMore, false)
			v = nil
		}
		for len(v) > 0 {
			i := p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			k := min(len(v), fs)
			f := p.arena[i*p.frameSize : i*p.frameSize+k]
			copy(f, v[:k])
			v = v[k:]
			p.rxq = append(p.rxq, f)
			p.rxMore = append(p.rxMore, len(v) > 0)
		}
		delivered = true
		l.Sent.Add(1)
	}
	p.mu.Unlock()
	l.mu.Lock()
	for _, tf := range frames {
		if !tf.Keep {
			if i := index(l.txa, tf.Buf, l.frameSize); i >= 0 {
				l.txFree = append(l.txFree, i)
			}
		}
	}
	l.mu.Unlock()
	if delivered {
		p.Wake()
	}
	return nil
}

// Wait implements tcp.Link.
func (l *Link) Wait(timeout time.Duration) error {
	l.mu.Lock()
	ready := len(l.rxq) > 0
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if ready {
		return nil
	}
	l.timer.Reset(timeout)
	select {
	case <-l.notify:
	case <-l.timer.C:
	}
	l.timer.Stop()
	return nil
}

// Wake implements tcp.Link.
func (l *Link) Wake() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// Close makes Wait fail.
func (l *Link) Close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.Wake()
}

// FreeFrames returns the number of free receive frames (for leak checks).
func (l *Link) FreeFrames() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.free)
}

// FrameSize implements tcp.Link.
func (l *Link) FrameSize() int { return l.frameSize }

// MTU implements tcp.Link.
func (l *Link) MTU() int { return l.mtu }

// Addr implements tcp.Link.
func (l *Link) Addr() [6]byte { return l.mac }

// TxCapacity implements tcp.Link.
func (l *Link) TxCapacity() int { return len(l.txa) / l.frameSize }

// RxMultiBuffer implements tcp.Link.
func (l *Link) RxMultiBuffer() bool { return l.RxFragSize > 0 }

// TxFragments implements tcp.Link.
func (l *Link) TxFragments() int { return max(l.TxFrags, 1) }

// TxChecksumOffload implements tcp.Link.
func (l *Link) TxChecksumOffload() bool { return l.CsumOffload }

// RxChecksumVerified implements tcp.Link.
func (l *Link) RxChecksumVerified() bool { return false }

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var s uint32
	for ; len(b) >= 2; b = b[2:] {
		s += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
