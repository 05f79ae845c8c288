package target

import (
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/pdu"
)

func (c *rawClient) tmf(fn uint8, ref uint32) byte {
	c.t.Helper()
	var o pdu.Out
	h := o.BHS()
	h.SetOpcode(pdu.OpTaskMgmtReq)
	h.SetImmediate(true)
	h.SetFlags(0x80 | fn)
	c.itt++
	h.SetITT(c.itt)
	h.SetRefTaskTag(ref)
	h.SetCmdSN(c.cmdSN)
	h.SetRefCmdSN(c.cmdSN - 1)
	h.SetExpStatSN(c.statSN)
	c.send(&o)
	for i := 0; i < 8; i++ {
		r, _, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatal(err)
		}
		if r.Opcode() == pdu.OpTaskMgmtResp && r.ITT() == c.itt {
			return r.Response()
		}
		if r.Opcode() == pdu.OpSCSIResponse {
			c.t.Fatalf("unexpected SCSI Response for ITT %#x while waiting for the TMF response", r.ITT())
		}
	}
	c.t.Fatal("no TMF response")
	return 0
}

func TestAbortTaskMidR2T(t *testing.T) {
	_, addr := newTestServer(t, Config{}, nil)
	c, err := dialRaw(t, addr, login.InitiatorConfig{TargetName: testIQN}, 21)
	if err != nil {
		t.Fatal(err)
	}
	c.clearUA()
	// WRITE(10) of 1 MiB with no unsolicited data: the target answers with R2Ts, which we never honour.
	itt := c.scsi([]byte{0x2a, 0, 0, 0, 0, 0, 0, 0x08, 0, 0}, false, 1<<20, nil)
	r, _, err := c.read(5 * time.Second)
	if err != nil || r.Opcode() != pdu.OpR2T || r.ITT() != itt {
		t.Fatalf("want R2T, got %v err %v", r, err)
	}
	for i := 0; i < 7; i++ { // the rest of the outstanding R2Ts
		if r, _, err := c.read(200 * time.Millisecond); err != nil || r.Opcode() != pdu.OpR2T {
			break
		}
	}
	if got := c.tmf(pdu.TMFQueryTask, itt); got != pdu.TMFRespSucceeded {
		t.Fatalf("QUERY TASK of a live task = %d, want %d", got, pdu.TMFRespSucceeded)
	}
	if got := c.tmf(pdu.TMFAbortTask, itt); got != pdu.TMFRespComplete {
		t.Fatalf("ABORT TASK = %d, want function complete", got)
	}
	if got := c.tmf(pdu.TMFQueryTask, itt); got != pdu.TMFRespComplete {
		t.Fatalf("QUERY TASK after abort = %d, want function complete (no such task)", got)
	}
	if got := c.tmf(pdu.TMFAbortTask, 0x7777); got != pdu.TMFRespNoTask {
		t.Fatalf("ABORT TASK of unknown tag = %d, want task does not exist", got)
	}
	if got := c.tmf(pdu.TMFTaskReassign, itt); got != pdu.TMFRespNoReassign {
		t.Fatalf("TASK REASSIGN = %d, want reassignment not supported", got)
	}
	// The session still works, and the aborted task never answers.
	c.scsi([]byte{0, 0, 0, 0, 0, 0}, false, 0, nil)
	r, _, err = c.read(5 * time.Second)
	if err != nil || r.Opcode() != pdu.OpSCSIResponse || r.ITT() == itt {
		t.Fatalf("after abort: %v err %v", r, err)
	}
}
