package target

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

// outPDU is one queued target PDU with the storage its data segment may need and what to release once sent.
type outPDU struct {
	pdu.Out
	seg   [2 + 252]byte // sense data, Reject header, small text
	buf   *dataBuf      // released after sending
	task  *task         // released after sending (last PDU of a task)
	close bool          // close the connection after this PDU is sent
	skip  bool          // not sent: only a marker for close
}

var outPool = sync.Pool{New: func() any { return new(outPDU) }}

func getOut(op pdu.Opcode) *outPDU {
	o := outPool.Get().(*outPDU)
	o.Reset()
	o.BHS().SetOpcode(op)
	return o
}

func (o *outPDU) release() {
	if o.buf != nil {
		putBuf(o.buf)
		o.buf = nil
	}
	if o.task != nil {
		o.task.release()
		o.task = nil
	}
	o.close, o.skip = false, false
	o.Data, o.AHS = nil, nil
	outPool.Put(o)
}

// advancesStatSN reports whether sending h consumes a StatSN (§4.2.2.2, §11.19).
func advancesStatSN(h pdu.BHS) bool {
	switch h.Opcode() {
	case pdu.OpSCSIResponse, pdu.OpTaskMgmtResp, pdu.OpTextResp, pdu.OpLoginResp, pdu.OpLogoutResp,
		pdu.OpReject, pdu.OpAsyncMsg:
		return true
	case pdu.OpDataIn:
		return h.Flags()&pdu.DataInStatus != 0
	case pdu.OpNOPIn:
		return h.ITT() != pdu.ReservedTag
	}
	return false
}

// conn is one iSCSI connection.
type conn struct {
	srv *Server
	tr  Transport
	nc  net.Conn
	log *slog.Logger

	sess   *session
	cid    uint16
	params login.Params
	statSN uint32 // owned by the send goroutine after login

	sendMu  sync.Mutex
	sendQ   []*outPDU
	spare   []*outPDU
	sendSig chan struct{}
	execQ   chan *task
	dm      DataMover

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	rxCount  atomic.Uint64
	pingTTT  atomic.Uint32
	pingAt   atomic.Int64
	nextTTT  atomic.Uint32
	draining atomic.Bool

	// Text response continuation (receive goroutine only).
	textRest []byte
	textTTT  uint32

	hdr [pdu.BHSLen]byte
}

func newConn(s *Server, tr Transport, nc net.Conn) *conn {
	c := &conn{
		srv: s, tr: tr, nc: nc,
		log:     s.log.With("remote", tr.RemoteAddr().String()),
		sendSig: make(chan struct{}, 1),
		execQ:   make(chan *task),
		done:    make(chan struct{}),
		sendQ:   make([]*outPDU, 0, 64),
		spare:   make([]*outPDU, 0, 64),
	}
	c.dm = tcpDataMover{c}
	if p, ok := tr.(DataMoverProvider); ok {
		c.dm = p.DataMover()
	}
	return c
}

// serve runs login, then the full feature phase, and cleans up.
func (c *conn) serve() {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("connection panic", "panic", r, "stack", string(debug.Stack()))
			c.close(fmt.Errorf("panic: %v", r))
		}
		c.close(nil)
		c.cleanup()
	}()
	if err := c.loginPhase(); err != nil {
		c.log.Info("login failed", "err", err)
		return
	}
	go c.sendLoop()
	if c.srv.cfg.NopInterval > 0 {
		go c.keepalive()
	}
	err := c.receiveLoop()
	if err != nil && !c.closed() {
		// Let a final Reject or response already queued reach the initiator before the connection goes.
		c.log.Info("closing connection", "err", err)
		c.closeAfterFlush()
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
		}
	}
	c.close(err)
}

// close ends the connection once; err nil means an orderly close.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.closeErr = err
		close(c.done)
		_ = c.tr.Close()
		if err != nil {
			c.log.Info("connection closed", "err", err)
		} else {
			c.log.Debug("connection closed")
		}
	})
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// cleanup releases the session's tasks (ErrorRecoveryLevel 0: a lost connection ends its session) and drops
// the I_T nexus state.
func (c *conn) cleanup() {
	ss := c.sess
	if ss == nil || ss.conn != c {
		return
	}
	ss.mu.Lock()
	tasks := make([]*task, 0, len(ss.tasks))
	for _, t := range ss.tasks {
		t.aborted.Store(true)
		tasks = append(tasks, t)
	}
	ss.mu.Unlock()
	// Tasks still collecting data are released here; executing ones release themselves on completion.
	for _, t := range tasks {
		if t.state.CompareAndSwap(taskCollecting, taskDone) {
			ss.removeTask(t)
			t.release()
		}
	}
	if owned := c.srv.unregisterSession(ss); owned && !ss.discovery && ss.target != nil {
		ss.target.SCSI.NexusLoss(ss.nexus)
	}
	// Drop what the send goroutine did not get to.
	c.sendMu.Lock()
	q := c.sendQ
	c.sendQ = nil
	c.sendMu.Unlock()
	for _, o := range q {
		o.release()
	}
}

// send queues o for the send goroutine.
func (c *conn) send(o *outPDU) {
	c.sendMu.Lock()
	if c.sendQ == nil && c.closed() {
		c.sendMu.Unlock()
		o.release()
		return
	}
	c.sendQ = append(c.sendQ, o)
	c.sendMu.Unlock()
	select {
	case c.sendSig <- struct{}{}:
	default:
	}
}

func (c *conn) sendLoop() {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("send panic", "panic", r, "stack", string(debug.Stack()))
			c.close(fmt.Errorf("send panic: %v", r))
		}
	}()
	for {
		select {
		case <-c.sendSig:
		case <-c.done:
			return
		}
		c.sendMu.Lock()
		batch := c.sendQ
		if batch == nil {
			c.sendMu.Unlock()
			return
		}
		c.sendQ = c.spare[:0]
		c.sendMu.Unlock()

		closeAfter := false
		ss := c.sess
		for _, o := range batch {
			closeAfter = closeAfter || o.close
			if o.skip {
				continue
			}
			h := o.BHS()
			h.SetStatSN(c.statSN)
			if advancesStatSN(h) {
				c.statSN++
			}
			h.SetExpCmdSN(ss.expCmdSN.Load())
			m := ss.maxCmdSN()
			ss.advertise(m)
			h.SetMaxCmdSN(m)
			c.tr.Queue(&o.Out)
		}
		err := c.tr.Flush()
		for i, o := range batch {
			o.release()
			batch[i] = nil
		}
		c.spare = batch[:0]
		if err != nil {
			c.close(err)
			return
		}
		if closeAfter {
			c.close(nil)
			return
		}
	}
}

// keepalive pings an idle initiator with NOP-In and drops the connection when a ping goes unanswered.
func (c *conn) keepalive() {
	interval, timeout := c.srv.cfg.NopInterval, c.srv.cfg.NopTimeout
	tick := time.NewTicker(min(interval, timeout) / 2)
	defer tick.Stop()
	last := c.rxCount.Load()
	idleSince := time.Now()
	for {
		select {
		case <-c.done:
			return
		case now := <-tick.C:
			if n := c.rxCount.Load(); n != last {
				// Any PDU proves the initiator alive; an outstanding ping no longer matters.
				last, idleSince = n, now
				c.pingTTT.Store(0)
				continue
			}
			if ttt := c.pingTTT.Load(); ttt != 0 {
				if now.Sub(time.Unix(0, c.pingAt.Load())) > timeout {
					c.close(fmt.Errorf("keepalive: no NOP-Out answer in %v", timeout))
					return
				}
				continue
			}
			if now.Sub(idleSince) >= interval {
				ttt := c.newTTT()
				c.pingAt.Store(now.UnixNano())
				c.pingTTT.Store(ttt)
				o := getOut(pdu.OpNOPIn)
				h := o.BHS()
				h.SetFinal(true)
				h.SetITT(pdu.ReservedTag)
				h.SetTTT(ttt)
				c.send(o)
			}
		}
	}
}

// newTTT returns a Target Transfer Tag that is neither 0 nor the reserved value.
func (c *conn) newTTT() uint32 {
	for {
		v := c.nextTTT.Add(1)
		if v != 0 && v != pdu.ReservedTag {
			return v
		}
	}
}

// drain asks the initiator to log out (Async Message, event 1) and closes the connection once its commands
// are done.
func (c *conn) drain() {
	if c.closed() || !c.draining.CompareAndSwap(false, true) {
		return
	}
	if c.sess != nil && !c.sess.discovery {
		o := getOut(pdu.OpAsyncMsg)
		h := o.BHS()
		h.SetFinal(true)
		h.SetITT(pdu.ReservedTag)
		h.SetLUN([8]byte{})
		h.SetAsync(pdu.AsyncLogoutRequest, 0, 0, 0, 2)
		c.send(o)
	}
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-tick.C:
				if c.sess == nil || c.sess.taskCount() == 0 {
					c.close(errors.New("target shutting down"))
					return
				}
			}
		}
	}()
}
