package target

import (
	"sync"
	"sync/atomic"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// session is one iSCSI session (§3.4); with MaxConnections=1 it has exactly one connection.
type session struct {
	srv       *Server
	key       sessionKey
	tsih      uint16
	discovery bool
	target    *Target
	nexus     scsi.Nexus
	params    login.Params
	conn      *conn

	// expCmdSN is advanced by the receive goroutine and read by the send goroutine.
	expCmdSN    atomic.Uint32
	outstanding atomic.Int32 // non-immediate commands received and not yet answered
	window      uint32
	// maxSent is the highest MaxCmdSN sent. An initiator ignores a smaller one (§4.2.2.1), so the window the
	// target accepts never closes below it.
	maxSent atomic.Uint32

	mu    sync.Mutex
	tasks map[uint32]*task // by ITT
	ahead map[uint32]struct{}
}

func newSession(srv *Server, key sessionKey, discovery bool, t *Target, p login.Params, cmdSN uint32, tpgt uint16) *session {
	ss := &session{
		srv: srv, key: key, discovery: discovery, target: t, params: p,
		window: srv.cfg.CmdWindow,
		tasks:  make(map[uint32]*task, 64),
		ahead:  map[uint32]struct{}{},
	}
	ss.nexus = scsi.Nexus{InitiatorName: key.initiator, ISID: key.isid, TargetName: key.target, TPGT: tpgt}
	ss.expCmdSN.Store(cmdSN)
	ss.maxSent.Store(cmdSN + ss.window - 1) // what the login response advertised
	return ss
}

func (ss *session) info() SessionInfo {
	si := SessionInfo{TSIH: ss.tsih, InitiatorName: ss.key.initiator, ISID: ss.key.isid, TargetName: ss.key.target,
		Discovery: ss.discovery}
	if c := ss.conn; c != nil {
		si.Remote = c.tr.RemoteAddr().String()
	}
	return si
}

// maxCmdSN is ExpCmdSN + window - 1, less the commands still outstanding, but never below what was already
// advertised.
func (ss *session) maxCmdSN() uint32 {
	exp := ss.expCmdSN.Load()
	free := int64(ss.window) - int64(ss.outstanding.Load())
	if free < 0 {
		free = 0
	}
	m := exp + uint32(free) - 1
	if sent := ss.maxSent.Load(); seqLT(m, sent) {
		return sent
	}
	return m
}

// advertise records a MaxCmdSN about to be sent (send goroutine only).
func (ss *session) advertise(m uint32) {
	if seqLT(ss.maxSent.Load(), m) {
		ss.maxSent.Store(m)
	}
}

// seqLT is serial number arithmetic (RFC 1982) for 32-bit sequence numbers.
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// checkCmdSN applies the CmdSN rules of §4.2.2.1 to a non-immediate request; it reports whether the
// request is to be processed (false: outside the window, silently ignored). Called from the receive goroutine.
func (ss *session) checkCmdSN(cmdSN uint32) bool {
	exp := ss.expCmdSN.Load()
	max := ss.maxCmdSN()
	if seqLT(cmdSN, exp) || seqLT(max, cmdSN) {
		return false
	}
	if cmdSN != exp {
		ss.ahead[cmdSN] = struct{}{}
		return true
	}
	exp++
	for {
		if _, ok := ss.ahead[exp]; !ok {
			break
		}
		delete(ss.ahead, exp)
		exp++
	}
	ss.expCmdSN.Store(exp)
	return true
}

func (ss *session) addTask(t *task) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, dup := ss.tasks[t.itt]; dup {
		return false
	}
	ss.tasks[t.itt] = t
	return true
}

func (ss *session) task(itt uint32) *task {
	ss.mu.Lock()
	t := ss.tasks[itt]
	ss.mu.Unlock()
	return t
}

func (ss *session) removeTask(t *task) {
	ss.mu.Lock()
	if ss.tasks[t.itt] == t {
		delete(ss.tasks, t.itt)
	}
	ss.mu.Unlock()
}

func (ss *session) taskCount() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.tasks)
}
