package target

import (
	"sync"
	"time"

	"github.com/xtgt/xtgt/iscsi/pdu"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// tmfWait bounds how long a TMF waits for aborted commands that are inside the backing store.
const tmfWait = 60 * time.Second

// abortTasks marks the tasks of ss that match as aborted (§4.2.3: no response will be sent for them).
// Tasks still collecting data on this connection are released at once; executing tasks are added to wg and
// release themselves when the backing store returns. own is true when ss is the caller's session (only its
// receive goroutine may release its collecting tasks).
func (ss *session) abortTasks(match func(*task) bool, wg *sync.WaitGroup, own bool) {
	var drop []*task
	ss.mu.Lock()
	for itt, t := range ss.tasks {
		if !match(t) {
			continue
		}
		t.aborted.Store(true)
		switch t.state.Load() {
		case taskCollecting:
			if own {
				delete(ss.tasks, itt)
				drop = append(drop, t)
			}
		case taskExecuting:
			if t.abortWG == nil && wg != nil {
				wg.Add(1)
				t.abortWG = wg
			}
			if !t.abortClosed {
				close(t.abortCh) // lets long SCSI work (SANITIZE) return at once
				t.abortClosed = true
			}
		}
	}
	ss.mu.Unlock()
	for _, t := range drop {
		t.state.Store(taskDone)
		t.release()
	}
}

// handleTMF performs a task management function (§11.5) and answers once every affected task is gone.
func (c *conn) handleTMF(h pdu.BHS) error {
	if err := c.tr.DiscardData(); err != nil {
		return err
	}
	ss := c.sess
	exp := ss.expCmdSN.Load()
	if !c.acceptCmdSN(h) {
		return nil
	}
	fn := h.TMFunction()
	itt, rawLUN := h.ITT(), h.LUN()
	lun := scsi.DecodeLUN(rawLUN)
	respond := func(code byte, wg *sync.WaitGroup, after func()) {
		o := getOut(pdu.OpTaskMgmtResp)
		r := o.BHS()
		r.SetFinal(true)
		r.SetResponse(code)
		r.SetITT(itt)
		if wg == nil {
			c.send(o)
			if after != nil {
				after()
			}
			return
		}
		go func() {
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(tmfWait):
				c.log.Warn("task management: aborted commands still running", "function", fn)
			}
			c.send(o)
			if after != nil {
				after()
			}
		}()
	}
	lunExists := func() bool {
		for _, l := range ss.target.SCSI.LUNs() {
			if l == lun {
				return true
			}
		}
		return false
	}
	onLUN := func(t *task) bool { return t.lun == rawLUN }
	all := func(*task) bool { return true }
	wg := new(sync.WaitGroup)
	switch fn {
	case pdu.TMFAbortTask:
		ref, refCmdSN := h.RefTaskTag(), h.RefCmdSN()
		found := false
		ss.abortTasks(func(t *task) bool {
			if t.itt == ref && t.lun == rawLUN {
				found = true
				return true
			}
			return false
		}, wg, true)
		switch {
		case found:
			respond(pdu.TMFRespComplete, wg, nil)
		case !seqLT(refCmdSN, exp) && seqLT(refCmdSN, h.CmdSN()):
			// Never received: consider it received and aborted (§11.5.1 b).
			ss.checkCmdSN(refCmdSN)
			respond(pdu.TMFRespComplete, nil, nil)
		default:
			respond(pdu.TMFRespNoTask, nil, nil)
		}
	case pdu.TMFAbortTaskSet:
		if !lunExists() {
			respond(pdu.TMFRespNoLUN, nil, nil)
			break
		}
		ss.abortTasks(onLUN, wg, true)
		respond(pdu.TMFRespComplete, wg, nil)
	case pdu.TMFClearTaskSet, pdu.TMFLUNReset:
		if !lunExists() {
			respond(pdu.TMFRespNoLUN, nil, nil)
			break
		}
		for _, o := range c.srv.sessionsOf(ss.target) {
			o.abortTasks(onLUN, wg, o == ss)
		}
		if fn == pdu.TMFLUNReset {
			ss.target.SCSI.Reset(scsi.LUNReset, lun, ss.nexus)
		} else {
			ss.target.SCSI.ClearTaskSet(lun, ss.nexus)
		}
		respond(pdu.TMFRespComplete, wg, nil)
	case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
		sessions := c.srv.sessionsOf(ss.target)
		for _, o := range sessions {
			o.abortTasks(all, wg, o == ss)
		}
		kind := scsi.TargetWarmReset
		var after func()
		if fn == pdu.TMFTargetColdReset {
			kind = scsi.TargetColdReset
			// A cold reset ends every connection to the target (§11.5.1) once the response is out.
			after = func() {
				for _, o := range sessions {
					if o.conn != nil && o.conn != c {
						o.conn.close(errTargetColdReset)
					}
				}
				c.closeAfterFlush()
			}
		}
		ss.target.SCSI.Reset(kind, 0, ss.nexus)
		respond(pdu.TMFRespComplete, wg, after)
	case pdu.TMFTaskReassign:
		respond(pdu.TMFRespNoReassign, nil, nil)
	case pdu.TMFQueryTask, pdu.TMFQueryTaskSet:
		// RFC 7144 §4.3 / SAM-5: FUNCTION SUCCEEDED when the task (or any task of this I_T_L nexus) is in the
		// task set, FUNCTION COMPLETE when it is not.
		ref := h.RefTaskTag()
		found := false
		ss.mu.Lock()
		for _, t := range ss.tasks {
			if t.lun == rawLUN && (fn == pdu.TMFQueryTaskSet || t.itt == ref) && t.state.Load() != taskDone {
				found = true
				break
			}
		}
		ss.mu.Unlock()
		if !lunExists() {
			respond(pdu.TMFRespNoLUN, nil, nil)
		} else if found {
			respond(pdu.TMFRespSucceeded, nil, nil)
		} else {
			respond(pdu.TMFRespComplete, nil, nil)
		}
	case pdu.TMFIUNitReset:
		// I_T NEXUS RESET (RFC 7144 §4.4): abort every task of this I_T nexus and lose its nexus state.
		ss.abortTasks(all, wg, true)
		ss.target.SCSI.NexusLoss(ss.nexus)
		respond(pdu.TMFRespComplete, wg, nil)
	case pdu.TMFClearACA, pdu.TMFQueryAsyncEvent:
		// No NACA support, and pending unit attentions are reported through sense data.
		respond(pdu.TMFRespNotSupported, nil, nil)
	default:
		respond(pdu.TMFRespRejected, nil, nil)
	}
	return nil
}
