package verbs

import (
	"context"
	"net"
)

// Device is one RNIC.
type Device interface {
	Name() string
	AllocPD() (PD, error)
	CreateCompChannel() (CompChannel, error)
	// CreateCQ makes a completion queue holding up to depth completions; ch may be nil.
	CreateCQ(depth int, ch CompChannel) (CQ, error)
	// Listen starts a connection-manager listener (rdma_listen) on a TCP address such as "127.0.0.1:0".
	Listen(addr string) (Listener, error)
	// Connect establishes qp to a listener at addr (rdma_connect). It returns the responder's parameters
	// (private data, IRD/ORD); a rejection is a *RejectError that matches ErrRejected.
	Connect(ctx context.Context, qp QP, addr string, p ConnParam) (ConnParam, error)
	Close() error
}

// PD is a protection domain: STags of one PD are usable only by QPs of the same PD.
type PD interface {
	// RegMR registers buf. With AccessZeroBased the tagged offset of buf[0] is 0, otherwise it is va
	// (the VA-based model: tagged offsets are va..va+len(buf)-1).
	RegMR(buf []byte, access Access, va uint64) (MR, error)
	CreateQP(attr QPAttr) (QP, error)
	Close() error
}

// MR is a registered memory region.
type MR interface {
	// LKey and RKey are the region's STag (on iWARP both are the same value).
	LKey() uint32
	RKey() uint32
	// Addr is the tagged offset of the first byte (0 for zero-based regions).
	Addr() uint64
	Len() int
	Buf() []byte
	Access() Access
	// Valid reports whether the STag is valid (not invalidated).
	Valid() bool
	// Revalidate makes an invalidated STag valid again under a new 8-bit key (like a fast-register WR);
	// it returns the new STag.
	Revalidate(key uint8) (uint32, error)
	Dereg() error
}

// QPAttr sizes a queue pair.
type QPAttr struct {
	SendCQ, RecvCQ CQ
	MaxSendWR      int // send queue depth
	MaxRecvWR      int // receive queue depth
	MaxSGE         int // per work request, at most MaxSGELimit
	// IRD is the number of inbound RDMA Read Requests this QP will queue; ORD the number it issues at once.
	IRD, ORD int
	// SignalAll makes every send WR signaled.
	SignalAll bool
}

// MaxSGELimit is the largest scatter/gather list a WR may carry.
const MaxSGELimit = 8

// QP is a reliable connected queue pair.
type QP interface {
	// PostSend queues wr; the WR (and its SGL) is copied, so the caller may reuse it at once.
	PostSend(wr *SendWR) error
	PostRecv(wr *RecvWR) error
	State() QPState
	// Stats returns a snapshot of the per-QP counters.
	Stats() QPStats
	// Done is closed when the QP leaves RTS (disconnect, Terminate sent or received, local error).
	Done() <-chan struct{}
	// Err is the reason the QP left RTS: nil while connected, a *TermError for a Terminate, else the cause.
	Err() error
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	// Close disconnects and flushes outstanding WRs with StatusFlushed.
	Close() error
}

// CQ is a completion queue.
type CQ interface {
	// Poll moves up to len(wc) completions into wc and returns how many; it never blocks.
	Poll(wc []WC) int
	// ReqNotify arms one event on the CQ's channel for the next completion (solicitedOnly: the next
	// solicited receive or any error completion).
	ReqNotify(solicitedOnly bool) error
	Close() error
}

// CompChannel delivers CQ events (ibv_comp_channel).
type CompChannel interface {
	// GetEvent waits for an armed CQ to fire and returns it.
	GetEvent(ctx context.Context) (CQ, error)
	Close() error
}

// Listener accepts connection requests.
type Listener interface {
	// Accept waits for the next connection request (its MPA Request has been read).
	Accept(ctx context.Context) (ConnRequest, error)
	Addr() net.Addr
	Close() error
}

// ConnRequest is a pending inbound connection.
type ConnRequest interface {
	// Param returns the initiator's private data and IRD/ORD.
	Param() ConnParam
	RemoteAddr() net.Addr
	// Accept binds the connection to qp (a fresh QP of this device) and replies with p.
	Accept(qp QP, p ConnParam) error
	// Reject refuses the connection with private data (an MPA Reply with R set).
	Reject(privateData []byte) error
}

// ConnParam carries connection-manager parameters both ways.
type ConnParam struct {
	PrivateData []byte
	// IRD/ORD: inbound/outbound RDMA Read depth. Zero means the QP's own values.
	IRD, ORD int
}
