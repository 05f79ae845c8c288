package target

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/xtgt/xtgt/iscsi/pdu"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// Task states.
const (
	taskCollecting int32 = iota // waiting for write data
	taskExecuting               // handed to SCSI
	taskDone                    // answered or dropped
)

// maxR2T bounds MaxOutstandingR2T on our side.
const maxR2T = 16

// r2t is one outstanding Ready To Transfer (§11.8) and the solicited Data-Out sequence it opens.
type r2t struct {
	ttt      uint32
	offset   uint32
	length   uint32
	received uint32
	dataSN   uint32
}

// task is one SCSI command from its header to its last response PDU.
type task struct {
	c         *conn
	itt       uint32
	cmdSN     uint32
	immediate bool
	lun       [8]byte
	read      bool
	write     bool
	edtl      uint32
	buf       *dataBuf

	attr    uint8
	state   atomic.Int32
	aborted atomic.Bool
	abortWG *sync.WaitGroup // set under session.mu when a TMF waits for this task
	// abortCh is handed to SCSI as Command.Abort and closed (under session.mu) when an executing task is
	// aborted; it survives pooling until it has been closed, so steady state allocates no channel.
	abortCh     chan struct{}
	abortClosed bool
	counted     bool // holds a slot of the CmdSN window

	// Write data collection (receive goroutine only).
	received    uint32 // total bytes received
	unsolEnd    uint32 // end of the unsolicited region
	unsolNext   uint32 // next expected unsolicited offset
	unsolDataSN uint32
	nextSolicit uint32 // next offset to request with an R2T
	r2tSN       uint32
	r2ts        [maxR2T]r2t
	nr2t        int
	cdb         [16 + 244]byte
	cmd         scsi.Command
}

var taskPool = sync.Pool{New: func() any { return new(task) }}

// leaveWindow frees the task's slot in the CmdSN window (once).
func (t *task) leaveWindow() {
	if t.counted {
		t.c.sess.outstanding.Add(-1)
		t.counted = false
	}
}

// drop forgets a task that will get no response and releases it (receive goroutine only).
func (c *conn) drop(t *task) {
	c.sess.removeTask(t)
	t.state.Store(taskDone)
	t.release()
}

func (t *task) release() {
	if t.buf != nil {
		putBuf(t.buf)
		t.buf = nil
	}
	t.leaveWindow()
	t.c = nil
	t.abortWG = nil
	if t.abortClosed {
		t.abortCh, t.abortClosed = nil, false
	}
	t.cmd = scsi.Command{}
	taskPool.Put(t)
}

// handleSCSICommand starts a task (§11.3): immediate data is read straight into the task's buffer, R2Ts are
// sent for what the unsolicited data does not cover, and the command is executed once all data is in.
func (c *conn) handleSCSICommand(h pdu.BHS, ahs []byte) error {
	ss := c.sess
	if !c.acceptCmdSN(h) {
		return c.tr.DiscardData()
	}
	t := taskPool.Get().(*task)
	abortCh := t.abortCh
	if abortCh == nil {
		abortCh = make(chan struct{})
	}
	*t = task{c: c, itt: h.ITT(), cmdSN: h.CmdSN(), immediate: h.Immediate(), lun: h.LUN(),
		read: h.Read(), write: h.Write(), edtl: h.EDTL(), attr: h.Attr(), abortCh: abortCh}
	t.state.Store(taskCollecting)
	if !t.immediate {
		t.counted = true
		ss.outstanding.Add(1)
	}
	cdbLen := copy(t.cdb[:], h.CDB())
	it := pdu.NewAHSIter(ahs)
	for it.Next() {
		if it.Type() == pdu.AHSExtendedCDB && len(it.Data()) > 1 {
			cdbLen += copy(t.cdb[16:], it.Data()[1:])
		}
	}
	if it.Err() != nil {
		c.reject(h, pdu.RejectProtocolError)
		t.release()
		return c.tr.DiscardData()
	}
	if t.itt == pdu.ReservedTag || !ss.addTask(t) {
		// A reserved or duplicate ITT: the command cannot be tracked (§11.17.1 "Task in progress").
		c.reject(h, pdu.RejectTaskInProgress)
		t.release()
		return c.tr.DiscardData()
	}
	t.cmd.CDB = t.cdb[:cdbLen]
	dsl := uint32(h.DataSegmentLength())
	p := &c.params
	if t.edtl > maxTaskData {
		// More than one task may buffer: refuse the command, keep the connection (unsolicited data that
		// follows is discarded as data of a finished task).
		if err := c.tr.DiscardData(); err != nil {
			return err
		}
		c.refuse(t, scsi.Sense{Key: scsi.KeyIllegalRequest, ASC: scsi.ASCInvalidFieldInCDB})
		return nil
	}
	if t.write && t.edtl > 0 {
		t.buf = getBuf(int(t.edtl))
		if dsl > t.edtl || dsl > p.FirstBurstLength || (dsl > 0 && !p.ImmediateData) {
			return c.failTask(t, h, fmt.Errorf("%w: %d bytes of immediate data (EDTL %d, FirstBurstLength %d)",
				errProtocol, dsl, t.edtl, p.FirstBurstLength))
		}
		if dsl > 0 {
			if err := c.tr.ReadData(t.buf.b[:dsl]); err != nil {
				return c.dataError(t, h, err)
			}
		}
		t.received = dsl
		t.unsolNext = dsl
		t.unsolEnd = dsl
		if !p.InitialR2T && !h.Final() {
			t.unsolEnd = min(t.edtl, p.FirstBurstLength)
		}
		t.nextSolicit = t.unsolEnd
		if t.received == t.edtl {
			c.execute(t)
			return nil
		}
		c.dm.GetDataOut(t)
		return nil
	}
	if dsl > 0 {
		// Data on a command that does not write: §11.3 says it is a protocol error.
		if err := c.tr.DiscardData(); err != nil {
			return err
		}
	}
	if t.read && t.edtl > 0 {
		t.buf = getBuf(int(t.edtl))
	}
	c.execute(t)
	return nil
}

// maxTaskData bounds one command's data buffer.
const maxTaskData = 16 << 20

// failTask drops a task on a protocol error; ErrorRecoveryLevel 0 ends the connection.
func (c *conn) failTask(t *task, h pdu.BHS, err error) error {
	c.reject(h, pdu.RejectProtocolError)
	c.drop(t)
	return err
}

// asciDataPhaseError is DATA PHASE ERROR (SPC-4), the sense a task gets when its Data-Out sequence is broken.
const asciDataPhaseError scsi.ASC = 0x4B00

// failData ends a task whose Data-Out sequence is wrong (DataSN, offset or F bit) with CHECK CONDITION,
// ABORTED COMMAND / DATA PHASE ERROR. PDU framing is intact, so the connection and the other tasks go on
// (where ErrorRecoveryLevel 0 would allow dropping the session, this keeps the initiator's other commands alive);
// later Data-Out PDUs of the task are discarded.
func (c *conn) failData(t *task, h pdu.BHS, why error) error {
	c.log.Info("Data-Out sequence error: task failed", "itt", t.itt, "err", why)
	if err := c.tr.DiscardData(); err != nil {
		return err
	}
	c.refuse(t, scsi.Sense{Key: scsi.KeyAbortedCommand, ASC: asciDataPhaseError})
	return nil
}

// refuse ends a task that never reached SCSI with CHECK CONDITION and the given sense.
func (c *conn) refuse(t *task, sn scsi.Sense) {
	c.sess.removeTask(t)
	t.state.Store(taskDone)
	t.leaveWindow()
	cmd := &t.cmd
	cmd.Status = scsi.CheckCondition
	cmd.Sense = sn.AppendFixed(cmd.SenseBuf[:0])
	cmd.Needed = int(t.edtl)
	t.read = false
	c.dm.PutDataIn(t)
}

// dataError handles a failed data segment read: a bad data digest is answered with a Reject and the task is
// dropped (the initiator will see it time out or retry); anything else ends the connection.
func (c *conn) dataError(t *task, h pdu.BHS, err error) error {
	c.drop(t)
	if errors.Is(err, pdu.ErrDataDigest) {
		c.reject(h, pdu.RejectDataDigest)
		return nil
	}
	return err
}

// sendR2Ts issues R2Ts until MaxOutstandingR2T are outstanding or all data is requested.
func (c *conn) sendR2Ts(t *task) {
	p := &c.params
	limit := min(int(max(p.MaxOutstandingR2T, 1)), maxR2T)
	for t.nr2t < limit && t.nextSolicit < t.edtl {
		n := min(t.edtl-t.nextSolicit, p.MaxBurstLength)
		r := &t.r2ts[t.nr2t]
		*r = r2t{ttt: c.newTTT(), offset: t.nextSolicit, length: n}
		t.nr2t++
		t.nextSolicit += n
		o := getOut(pdu.OpR2T)
		h := o.BHS()
		h.SetFinal(true)
		h.SetLUN(t.lun)
		h.SetITT(t.itt)
		h.SetTTT(r.ttt)
		h.SetDataSN(t.r2tSN)
		t.r2tSN++
		h.SetBufferOffset(r.offset)
		h.SetDesiredLength(n)
		c.send(o)
	}
}

// handleDataOut places a Data-Out PDU's payload straight into its task's buffer (§11.7).
func (c *conn) handleDataOut(h pdu.BHS) error {
	t := c.sess.task(h.ITT())
	dsl := uint32(h.DataSegmentLength())
	if t == nil || t.state.Load() != taskCollecting {
		// Data for a task that is gone (aborted, or answered early): discard it.
		return c.tr.DiscardData()
	}
	off, ttt, dataSN := h.BufferOffset(), h.TTT(), h.DataSN()
	if ttt == pdu.ReservedTag {
		// Unsolicited data.
		if off != t.unsolNext || dataSN != t.unsolDataSN || uint64(off)+uint64(dsl) > uint64(t.unsolEnd) {
			return c.failData(t, h, fmt.Errorf("%w: unsolicited offset %d DataSN %d length %d (expected %d, %d, end %d)",
				errDataSequence, off, dataSN, dsl, t.unsolNext, t.unsolDataSN, t.unsolEnd))
		}
		if err := c.tr.ReadData(t.buf.b[off : off+dsl]); err != nil {
			return c.dataError(t, h, err)
		}
		t.unsolNext += dsl
		t.unsolDataSN++
		t.received += dsl
		if h.Final() && t.unsolNext != t.unsolEnd {
			// The initiator ended its unsolicited burst early: solicit the rest.
			t.nextSolicit = min(t.nextSolicit, t.unsolNext)
			t.unsolEnd = t.unsolNext
		}
	} else {
		i := 0
		for ; i < t.nr2t && t.r2ts[i].ttt != ttt; i++ {
		}
		if i == t.nr2t {
			return c.failData(t, h, fmt.Errorf("%w: Data-Out for unknown TTT %#x", errDataSequence, ttt))
		}
		r := &t.r2ts[i]
		if off != r.offset+r.received || dataSN != r.dataSN || r.received+dsl > r.length {
			return c.failData(t, h, fmt.Errorf("%w: solicited offset %d DataSN %d length %d (expected %d, %d, %d left)",
				errDataSequence, off, dataSN, dsl, r.offset+r.received, r.dataSN, r.length-r.received))
		}
		if err := c.tr.ReadData(t.buf.b[off : off+dsl]); err != nil {
			return c.dataError(t, h, err)
		}
		r.received += dsl
		r.dataSN++
		t.received += dsl
		if r.received == r.length {
			if !h.Final() {
				return c.failData(t, h, fmt.Errorf("%w: sequence complete without F bit", errDataSequence))
			}
			t.r2ts[i] = t.r2ts[t.nr2t-1]
			t.nr2t--
		} else if h.Final() {
			return c.failData(t, h, fmt.Errorf("%w: F bit before the end of the R2T", errDataSequence))
		}
	}
	if t.received == t.edtl {
		c.execute(t)
		return nil
	}
	c.dm.GetDataOut(t)
	return nil
}

// execute hands a task to SCSI on its own goroutine.
func (c *conn) execute(t *task) {
	if t.aborted.Load() {
		// Aborted by another session's TMF while its data was arriving.
		c.drop(t)
		return
	}
	if !t.state.CompareAndSwap(taskCollecting, taskExecuting) {
		return
	}
	select {
	case c.execQ <- t: // an idle worker takes it
	default:
		go c.worker(t) // allocates; only when every worker is busy
	}
}

// worker executes tasks; workers park on execQ until the connection ends, so steady-state dispatch allocates
// nothing and their number follows the peak command concurrency (bounded by the CmdSN window).
func (c *conn) worker(t *task) {
	for {
		c.run(t)
		select {
		case t = <-c.execQ:
		case <-c.done:
			return
		}
	}
}

func (c *conn) run(t *task) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("task panic", "panic", r, "stack", string(debug.Stack()))
			c.close(fmt.Errorf("task panic: %v", r))
		}
	}()
	ss := c.sess
	cmd := &t.cmd
	cmd.Nexus = ss.nexus
	cmd.LUN = scsi.DecodeLUN(t.lun)
	cmd.Attr = scsi.TaskAttr(t.attr)
	cmd.Tag = uint64(t.itt)
	cmd.Abort = t.abortCh
	if t.write && t.buf != nil {
		cmd.DataOut = t.buf.b[:t.received]
	}
	if t.read && t.buf != nil {
		cmd.DataIn = t.buf.b[:t.edtl]
	}
	ss.target.SCSI.Execute(cmd)
	// The command leaves the CmdSN window before its response is queued, so the MaxCmdSN sent with the
	// response already reflects the freed slot.
	t.leaveWindow()
	ss.mu.Lock()
	t.state.Store(taskDone)
	if ss.tasks[t.itt] == t {
		delete(ss.tasks, t.itt)
	}
	aborted, wg := t.aborted.Load(), t.abortWG
	ss.mu.Unlock()
	if aborted || c.closed() {
		t.release()
		if wg != nil {
			wg.Done()
		}
		return
	}
	c.dm.PutDataIn(t)
}

// respond sends a finished task's Data-In and status: Data-In PDUs of at most the initiator's
// MaxRecvDataSegmentLength, sequences of at most MaxBurstLength, and the status in the last Data-In when there
// is no sense data (phase collapse, §11.7.4), else in a SCSI Response.
func (c *conn) respond(t *task) {
	cmd := &t.cmd
	edtl := t.edtl
	var resid uint32
	var rflags byte
	if t.read || t.write {
		transferred := uint32(cmd.Needed)
		if t.read {
			transferred = uint32(cmd.InLen)
		}
		switch needed := uint32(cmd.Needed); {
		case needed > edtl:
			rflags, resid = pdu.RespOverflow, needed-edtl
		case transferred < edtl:
			rflags, resid = pdu.RespUnderflow, edtl-transferred
		}
	} else if cmd.Needed > 0 {
		rflags, resid = pdu.RespOverflow, uint32(cmd.Needed)
	}
	inLen := 0
	if t.read {
		inLen = min(cmd.InLen, int(edtl))
	}
	collapse := len(cmd.Sense) == 0 && inLen > 0
	if inLen > 0 {
		seg := int(max(c.params.PeerMaxRecvDataSegmentLength, 512))
		burst := int(max(c.params.MaxBurstLength, uint32(seg)))
		var dataSN uint32
		for off := 0; off < inLen; {
			n := min(seg, inLen-off, burst-off%burst)
			o := getOut(pdu.OpDataIn)
			h := o.BHS()
			h.SetLUN(t.lun)
			h.SetITT(t.itt)
			h.SetTTT(pdu.ReservedTag)
			h.SetDataSN(dataSN)
			dataSN++
			h.SetBufferOffset(uint32(off))
			o.Data = t.buf.b[off : off+n]
			off += n
			last := off == inLen
			if last || off%burst == 0 {
				h.SetFinal(true)
			}
			if last && collapse {
				h.SetFlags(h.Flags() | pdu.DataInStatus | rflags)
				h.SetStatus(byte(cmd.Status))
				h.SetResidualCount(resid)
				o.task = t
			}
			c.send(o)
		}
		if collapse {
			return
		}
	}
	o := getOut(pdu.OpSCSIResponse)
	h := o.BHS()
	h.SetFinal(true)
	h.SetFlags(h.Flags() | rflags)
	h.SetResponse(0) // command completed at target
	h.SetStatus(byte(cmd.Status))
	h.SetITT(t.itt)
	h.SetResidualCount(resid)
	if n := len(cmd.Sense); n > 0 {
		o.seg[0], o.seg[1] = byte(n>>8), byte(n)
		k := copy(o.seg[2:], cmd.Sense)
		o.Data = o.seg[:2+k]
	}
	o.task = t
	c.send(o)
}
