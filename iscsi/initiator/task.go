package initiator

import (
	"sync/atomic"

	"github.com/xtgt/xtgt/iscsi/pdu"
)

// maxTasks bounds Options.MaxTasks: the task index is the low 16 bits of the ITT.
const maxTasks = 1 << 16

const maxSense = 252

// Task states.
const (
	stFree      uint32 = iota
	stReserved         // taken from the pool, not yet sent
	stActive           // sent, waiting for completion
	stDone             // completed, the caller collects the result
	stAbandoned        // the caller gave up (context); the receive goroutine frees it on completion
)

type taskKind uint8

const (
	kindSCSI taskKind = iota
	kindNOP
	kindTMF
	kindLogout
	kindText
)

// outItem is one outgoing PDU. Pooled items (Data-Out, NOP-Out answers) go back to the pool once written;
// a task's own command item lives as long as the task.
type outItem struct {
	out    pdu.Out
	pooled bool
	buf    []byte // owned payload buffer (NOP-Out echo)
}

// task is one outstanding request, indexed by the low 16 bits of its ITT.
type task struct {
	idx   uint32
	gen   uint32
	itt   atomic.Uint32
	state atomic.Uint32
	cmdSN atomic.Uint32 // for the RefCmdSN of a TMF aimed at this task
	kind  taskKind
	done  chan struct{}
	cmd   outItem
	ahs   [272]byte

	dataIn, dataOut []byte
	inNext          uint32 // next expected Data-In DataSN
	inBytes         uint32

	// Results, written by the receive goroutine before completion.
	err      error
	status   byte
	response byte
	resFlags byte
	residual uint32
	senseLen int
	sense    [maxSense]byte
	text     []byte
}

func (t *task) reset() {
	t.dataIn, t.dataOut = nil, nil
	t.inNext, t.inBytes = 0, 0
	t.err = nil
	t.status, t.response, t.resFlags, t.residual, t.senseLen = 0, 0, 0, 0, 0
	t.text = t.text[:0]
	t.cmd.out.Reset()
}
