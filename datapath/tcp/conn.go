package tcp

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
)

// State is a connection state (RFC 9293 §3.3.2).
type State uint8

// Connection states.
const (
	StateClosed State = iota
	StateSynSent
	StateSynRcvd
	StateEstablished
	StateFinWait1
	StateFinWait2
	StateCloseWait
	StateClosing
	StateLastAck
	StateTimeWait
)

var stateNames = [...]string{"CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
	"FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "?"
}

// Connection outcomes reported to the application.
var (
	ErrConnReset   = errors.New("tcp: connection reset by peer")
	ErrConnRefused = errors.New("tcp: connection refused")
	ErrTimeout     = errors.New("tcp: connection timed out")
	ErrAborted     = errors.New("tcp: connection aborted")
	ErrClosed      = errors.New("tcp: use of closed connection")
	ErrEngineDown  = errors.New("tcp: engine stopped")
)

type connKey struct {
	raddr, laddr netip.Addr
	rport, lport uint16
}

// oooSeg is a held out-of-order segment: a payload view into a retained frame.
type oooSeg struct {
	seq  Seq
	data []byte
	fin  bool
}

// Conn is one TCP connection. Fields below "engine-owned" are touched only by the engine
// goroutine; the application side uses the rings, atomics and channels.
type Conn struct {
	// Immutable after creation.
	eng      *Engine
	key      connKey
	v6       bool
	listener *Listener
	Stats    ConnStats

	// Application <-> engine.
	sq            *sendQueue    // send stream (app queues, engine takes)
	rq            *spsc[[]byte] // delivered payload views (engine produces)
	rel           *spsc[[]byte] // released views (app produces)
	readable      chan struct{} // cap 1
	writable      chan struct{} // cap 1
	estab         chan struct{} // closed once established or failed
	estabOnce     sync.Once
	kicked        atomic.Bool
	appShutWr     atomic.Bool // CloseWrite requested
	appClosed     atomic.Bool // Close requested
	closing       atomic.Bool // Close/Abort entered: readers stop and drop readMu
	finIn         atomic.Bool // peer FIN delivered after all data
	errCode       atomic.Pointer[error]
	stateA        atomic.Uint32 // mirror of state for readers
	sbWaiting     atomic.Bool
	rdWaiting     atomic.Bool
	accepted      atomic.Bool
	unreadAtClose atomic.Bool

	// Application-side read state (guarded by readMu).
	readMu  sync.Mutex
	cur     []byte
	curView []byte
	writeMu sync.Mutex
	rdl     deadline
	wdl     deadline

	// ---- engine-owned ----
	state   State
	peerMAC MAC
	timer   timerEntry

	iss, sndUna, sndNxt, sndMax Seq
	unaIdx                      uint64 // stream index of sndUna (data bytes only)
	sndWnd                      int    // scaled peer window
	maxSndWnd                   int
	sndWl1, sndWl2              Seq
	sndWscale, rcvWscale        uint8
	sndMSS, rcvMSS              int
	finQueued                   bool
	finIdx                      uint64

	irs, rcvNxt, rcvAdv Seq
	rcvBuf, rcvHeld     int
	viewsOut, viewsCap  int
	ooo                 []oooSeg
	oooBytes            int
	finRcvd             bool
	segsUnacked         int
	ackNow              bool
	lastAckSent         Seq

	tsOK, sackOK, wsOK bool
	tsRecent           uint32
	tsRecentAt         int64
	tsOffset           uint32

	srtt, rttvar, rto int64
	rttSeq            Seq
	rttAt             int64
	rttTiming         bool
	backoff           int
	retries           int

	cc          CongestionControl
	dupAcks     int
	inRecovery  bool
	recoverSeq  Seq
	rtxHead     bool // NewReno: retransmit the segment at snd.una
	sacked      [maxScoreboard]SACKBlock
	nSacked     int
	highRxt     Seq
	rxtHigh     Seq // snd.max when the last hole retransmission was sent
	lastOOO     Seq
	sackScratch [maxSACKBlocks]SACKBlock
	synAt       int64

	rtoAt, delackAt, persistAt, keepAt, twAt int64
	tlpAt                                    int64 // tail loss probe (RFC 8985 §7)
	tlpOut                                   bool  // a probe is outstanding
	advancedAt                               int64 // when snd.una last advanced
	lastRecv                                 int64
	probes                                   int
	probeAt                                  int64
	kaProbes                                 int

	inDirty   bool
	dirtyNext *Conn
	removed   bool
}

const maxScoreboard = 8

// State returns the current state (as last published by the engine).
func (c *Conn) State() State { return State(c.stateA.Load()) }

func (c *Conn) setState(s State) {
	c.state = s
	c.stateA.Store(uint32(s))
}

// LocalAddr returns the local address and port.
func (c *Conn) LocalAddrPort() netip.AddrPort { return netip.AddrPortFrom(c.key.laddr, c.key.lport) }

// RemoteAddrPort returns the peer address and port.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return netip.AddrPortFrom(c.key.raddr, c.key.rport) }

func (c *Conn) flight() int { return c.sndMax.Sub(c.sndUna) }

func (c *Conn) seqOfIdx(idx uint64) Seq { return c.sndUna.Add(int(idx - c.unaIdx)) }

func (c *Conn) idxOfSeq(s Seq) uint64 { return c.unaIdx + uint64(s.Sub(c.sndUna)) }

// finSeq returns the sequence number of our FIN (valid when finQueued).
func (c *Conn) finSeq() Seq { return c.seqOfIdx(c.finIdx) }

func (c *Conn) synced() bool { return c.state >= StateEstablished }
