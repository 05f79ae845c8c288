package verbs

// Access is a set of memory access rights.
type Access uint32

const (
	AccessLocalWrite  Access = 1 << iota // receive buffers and RDMA Read sinks
	AccessRemoteWrite                    // target of the peer's RDMA Write (and, on iWARP, Read sinks)
	AccessRemoteRead                     // source of the peer's RDMA Read
	AccessZeroBased                      // tagged offsets start at 0 rather than at the region's VA
)

// SGE is one scatter/gather element: Length bytes at tagged offset Addr of the region with LKey.
type SGE struct {
	Addr   uint64
	Length uint32
	LKey   uint32
}

// Opcode is a send work request type.
type Opcode uint8

const (
	OpSend     Opcode = iota // Send (with Solicited Event if FlagSolicited)
	OpSendInv                // Send with Invalidate of the peer's InvalidateKey
	OpWrite                  // RDMA Write of SGL to RKey/RemoteAddr
	OpRead                   // RDMA Read of RKey/RemoteAddr into SGL (one SGE)
	OpLocalInv               // invalidate local STag InvalidateKey
)

func (o Opcode) String() string {
	switch o {
	case OpSend:
		return "send"
	case OpSendInv:
		return "send-inv"
	case OpWrite:
		return "write"
	case OpRead:
		return "read"
	case OpLocalInv:
		return "local-inv"
	}
	return "unknown"
}

// SendFlags modify a send work request.
type SendFlags uint8

const (
	FlagSignaled  SendFlags = 1 << iota // produce a completion
	FlagSolicited                       // Send with Solicited Event
	FlagFence                           // wait for prior RDMA Reads to complete
)

// SendWR is a send queue work request.
type SendWR struct {
	ID    uint64
	Op    Opcode
	Flags SendFlags
	SGL   []SGE
	// RemoteAddr and RKey name the peer's buffer for OpWrite and OpRead.
	RemoteAddr uint64
	RKey       uint32
	// InvalidateKey is the peer's STag to invalidate (OpSendInv) or the local one (OpLocalInv).
	InvalidateKey uint32
}

// RecvWR is a receive queue work request.
type RecvWR struct {
	ID  uint64
	SGL []SGE
}

// Status is a completion status.
type Status uint8

const (
	StatusSuccess Status = iota
	StatusLocalLengthError
	StatusLocalProtectionError
	StatusLocalQPError
	StatusRemoteAccessError
	StatusRemoteOperationError
	StatusFlushed
	StatusFatal
)

func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "success"
	case StatusLocalLengthError:
		return "local length error"
	case StatusLocalProtectionError:
		return "local protection error"
	case StatusLocalQPError:
		return "local QP error"
	case StatusRemoteAccessError:
		return "remote access error"
	case StatusRemoteOperationError:
		return "remote operation error"
	case StatusFlushed:
		return "flushed"
	case StatusFatal:
		return "fatal"
	}
	return "unknown"
}

// WCOpcode says which work request a completion belongs to.
type WCOpcode uint8

const (
	WCSend WCOpcode = iota
	WCWrite
	WCRead
	WCLocalInv
	WCRecv
)

// WCFlags qualify a completion.
type WCFlags uint8

const (
	WCWithInvalidate WCFlags = 1 << iota // receive of a Send with Invalidate; InvalidatedKey is set
	WCSolicited                          // receive of a Send with Solicited Event
)

// WC is a work completion.
type WC struct {
	ID             uint64
	Status         Status
	Op             WCOpcode
	Flags          WCFlags
	ByteLen        uint32
	InvalidatedKey uint32
	QP             QP
}

// QPState is a queue pair state (RFC 5040 §6: a stream is set up, in full operation, or terminated).
type QPState uint8

const (
	QPInit   QPState = iota // created, not connected
	QPRTS                   // connected, full operation
	QPError                 // terminated or failed; WRs are flushed
	QPClosed                // closed by the consumer
)

func (s QPState) String() string {
	switch s {
	case QPInit:
		return "init"
	case QPRTS:
		return "rts"
	case QPError:
		return "error"
	case QPClosed:
		return "closed"
	}
	return "unknown"
}

// QPStats are per-QP counters.
type QPStats struct {
	TxMessages, RxMessages uint64 // RDMAP messages
	TxFPDUs, RxFPDUs       uint64
	TxBytes, RxBytes       uint64 // payload (ULPDU data) bytes
	PlacedBytes            uint64 // payload bytes copied into registered regions or receive buffers
	PlaceCopies            uint64 // copy operations into those buffers (one per contiguous span)
	AccessViolations       uint64 // peer accesses refused (STag, bounds, rights, PD)
	CRCErrors              uint64
	MarkerErrors           uint64
	TerminatesSent         uint64
	TerminatesReceived     uint64
}
