// Package link holds what the userspace TCP engine (datapath/tcp) and its link adapters
// (memlink, afpacket, xsklink) share without importing each other: the transmit frame
// descriptor. The Link interface itself is defined by its consumer, datapath/tcp.
package link

// TxFrame is one frame handed to a link for transmission.
type TxFrame struct {
	// Buf is a transmit buffer obtained from the link, resliced to the frame's length.
	Buf []byte
	// Keep marks a data segment the engine retains for retransmission (the one copy of the
	// payload): the link must not reuse Buf after sending it; the engine returns it with
	// ReturnTx once the data is acknowledged, and the link defers reuse until its own
	// transmission of Buf has completed.
	Keep bool
	// CsumStart and CsumOffset ask the link to complete a TCP/UDP checksum, as a NIC does for
	// CHECKSUM_PARTIAL: the field at CsumStart+CsumOffset holds the folded pseudo-header sum;
	// the link sums Buf[CsumStart:] and stores the complement there. CsumOffset 0 means none.
	CsumStart, CsumOffset uint16
	// More marks a frame whose packet continues in the next frame handed over in the same
	// Transmit call (multi-buffer packets: a jumbo segment over several transmit buffers;
	// links whose TxFragments is above 1). A checksum request goes on a packet's first frame.
	More bool
}
