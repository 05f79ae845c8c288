package tcp

import (
	"time"

	"github.com/xtgt/xtgt/datapath/link"
)

// Link is the engine's view of one network queue (an AF_XDP socket, an AF_PACKET socket, or an
// in-memory pipe). It is batch-shaped and owned by one engine goroutine, except Wake.
//
// Receive frames are views into link-owned memory (UMEM on AF_XDP); the engine hands payload
// sub-views to the upper layer and returns them with Release. Release accepts any view whose
// first byte lies inside a received frame, so a payload view releases its frame.
type Link interface {
	// Receive stores up to len(frames) received frames and returns how many; it does not block.
	// more[i] reports that frames[i]'s packet continues in frames[i+1] (multi-buffer receive,
	// links whose RxMultiBuffer is true); whole packets only are returned. A nil more asks for
	// single-frame packets only.
	Receive(frames [][]byte, more []bool) int
	// RxMultiBuffer reports that received packets may span several frames: the engine then
	// advertises an MSS from the MTU alone.
	RxMultiBuffer() bool
	// Release returns received frames (or views into them) to the link.
	Release(frames [][]byte)
	// TxBuffers stores up to len(bufs) empty transmit buffers of FrameSize bytes and returns how
	// many; it does not block. Every buffer obtained must be passed to Transmit or ReturnTx.
	TxBuffers(bufs [][]byte) int
	// Transmit queues the frames for sending. The link owns a frame's buffer afterwards unless
	// the frame is marked Keep.
	Transmit(frames []TxFrame) error
	// ReturnTx gives back transmit buffers: unused ones, and kept ones once the engine is done
	// with them (the link defers their reuse until its own transmission of them completed).
	ReturnTx(bufs [][]byte)
	// TxCapacity is the number of transmit buffers the link has; the engine keeps at most a
	// share of them for retransmission.
	TxCapacity() int
	// TxFragments is how many transmit buffers one packet may span (1: a packet fits one
	// buffer); above 1 the engine sends segments up to the MTU over several (TxFrame.More).
	TxFragments() int
	// TxChecksumOffload reports that the link completes TCP checksums on request
	// (TxFrame.CsumStart/CsumOffset), as a NIC does for the kernel's CHECKSUM_PARTIAL.
	TxChecksumOffload() bool
	// Wait blocks until frames may be received, Wake is called, or timeout passes.
	Wait(timeout time.Duration) error
	// Wake interrupts Wait; it is safe from any goroutine.
	Wake()
	// FrameSize is the size of a transmit buffer; the engine sizes segments to fit it and the MTU.
	FrameSize() int
	// MTU is the IP MTU of the link.
	MTU() int
	// Addr is the link's Ethernet address.
	Addr() MAC
	// RxChecksumVerified reports that the link has verified TCP checksums of received frames.
	RxChecksumVerified() bool
}

// TxFrame is one frame for Link.Transmit (Keep: a retained data segment; CsumStart/CsumOffset:
// checksum completion request).
type TxFrame = link.TxFrame
