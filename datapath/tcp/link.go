package tcp

import "time"

// Link is the engine's view of one network queue (an AF_XDP socket, an AF_PACKET socket, or an
// in-memory pipe). It is batch-shaped and owned by one engine goroutine, except Wake.
//
// Receive frames are views into link-owned memory (UMEM on AF_XDP); the engine hands payload
// sub-views to the upper layer and returns them with Release. Release accepts any view whose
// first byte lies inside a received frame, so a payload view releases its frame.
type Link interface {
	// Receive stores up to len(frames) received frames and returns how many; it does not block.
	Receive(frames [][]byte) int
	// Release returns received frames (or views into them) to the link.
	Release(frames [][]byte)
	// TxBuffers stores up to len(bufs) empty transmit buffers of FrameSize bytes and returns how
	// many; it does not block. Every buffer obtained must be passed to Transmit or ReturnTx.
	TxBuffers(bufs [][]byte) int
	// Transmit queues the frames (TxBuffers resliced to the frame length) for sending. The link
	// owns them afterwards.
	Transmit(frames [][]byte) error
	// ReturnTx gives back unused transmit buffers.
	ReturnTx(bufs [][]byte)
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
