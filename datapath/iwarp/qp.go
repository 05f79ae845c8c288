package iwarp

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtgt/xtgt/datapath/iwarp/mpa"
	"github.com/xtgt/xtgt/datapath/verbs"
)

// seg is a resolved scatter/gather element: n bytes at off in m.
type seg struct {
	m   *MR
	off int
	n   int
}

// sqe is a send queue entry: the WR, resolved, plus its completion state.
type sqe struct {
	id       uint64
	op       verbs.Opcode
	flags    verbs.SendFlags
	remote   uint64
	rkey     uint32
	invKey   uint32
	sgl      [verbs.MaxSGELimit]seg
	nsge     int
	length   int
	signaled bool
	done     bool
	status   verbs.Status
	got      int // Read: response bytes placed
	sinkSTag uint32
}

type rqe struct {
	id     uint64
	sgl    [verbs.MaxSGELimit]seg
	nsge   int
	length int
}

// irqe is an accepted inbound RDMA Read Request waiting for its response.
type irqe struct {
	sinkSTag uint32
	sinkTO   uint64
	src      []byte
}

type termReq struct {
	layer, etype, code uint8
	segLen             uint16
	ddpHdr             [18]byte
	ddpN               int
	rdmaHdr            [28]byte
	rdmaN              int
}

// lingerTimeout bounds how long a terminated stream waits for the peer to close.
const lingerTimeout = 2 * time.Second

type stats struct {
	txMsgs, rxMsgs, txFPDUs, rxFPDUs, txBytes, rxBytes, placed, copies atomic.Uint64
	violations, crcErrs, markerErrs, termSent, termRecv                atomic.Uint64
}

// QP is a reliable connected queue pair of the software RNIC.
type QP struct {
	pd       *PD
	scq, rcq *CQ
	sigAll   bool
	maxSGE   int
	ird, ord int

	mu     sync.Mutex
	state  verbs.QPState
	err    error
	sq     []sqe
	sqPost uint64 // next free
	sqTx   uint64 // next to transmit
	sqDone uint64 // oldest not yet completed
	rq     []rqe
	rqPost uint64
	rqHead uint64
	reads  []uint64 // sq counters of outstanding Reads (FIFO, cap ORD)
	rdHead int
	rdN    int
	irq    []irqe
	irqH   int
	irqN   int
	term   *termReq
	termQ  termReq
	// peer-to-peer RTR (RFC 6581): sendRTR is sent first by the initiator, waitRTR gates the responder.
	sendRTR mpa.RTR
	waitRTR mpa.RTR
	rtrRead bool // initiator awaits the zero-length Read Response of a Read RTR
	linger  bool // a Terminate was sent: half-close instead of close

	done      chan struct{}
	kick      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup

	stream   Stream
	framer   *mpa.Framer
	deframer *mpa.Deframer
	mulpdu   int

	st stats
	tx txState
	rx rxState
}

var _ verbs.QP = (*QP)(nil)

func newQP(pd *PD, a verbs.QPAttr) (*QP, error) {
	scq, ok1 := a.SendCQ.(*CQ)
	rcq, ok2 := a.RecvCQ.(*CQ)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("create qp: CQs of this provider required: %w", verbs.ErrInvalidState)
	}
	if a.MaxSGE <= 0 {
		a.MaxSGE = 1
	}
	if a.MaxSGE > verbs.MaxSGELimit {
		return nil, fmt.Errorf("create qp: %d SGEs: %w", a.MaxSGE, verbs.ErrTooManySGE)
	}
	a.MaxSendWR = max(a.MaxSendWR, 1)
	a.MaxRecvWR = max(a.MaxRecvWR, 1)
	if a.IRD <= 0 {
		a.IRD = 16
	}
	if a.ORD <= 0 {
		a.ORD = 16
	}
	q := &QP{
		pd: pd, scq: scq, rcq: rcq, sigAll: a.SignalAll, maxSGE: a.MaxSGE, ird: a.IRD, ord: a.ORD,
		sq: make([]sqe, a.MaxSendWR), rq: make([]rqe, a.MaxRecvWR),
		done: make(chan struct{}), kick: make(chan struct{}, 1),
	}
	return q, nil
}

// resolve checks sges against this QP's PD and the access needed, filling out.
func (q *QP) resolve(sges []verbs.SGE, need verbs.Access, out *[verbs.MaxSGELimit]seg) (int, int, error) {
	if len(sges) > q.maxSGE {
		return 0, 0, verbs.ErrTooManySGE
	}
	total := 0
	for i, s := range sges {
		m := q.pd.dev.lookupMR(s.LKey)
		if m == nil || m.pd != q.pd || m.access&need != need {
			return 0, 0, fmt.Errorf("sge %d lkey %#x: %w", i, s.LKey, verbs.ErrInvalidKey)
		}
		off, _, ok := m.offset(s.Addr, int(s.Length))
		if !ok {
			return 0, 0, fmt.Errorf("sge %d outside region: %w", i, verbs.ErrInvalidSGE)
		}
		out[i] = seg{m: m, off: off, n: int(s.Length)}
		total += int(s.Length)
	}
	return len(sges), total, nil
}

func (q *QP) PostSend(wr *verbs.SendWR) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != verbs.QPRTS && q.state != verbs.QPInit {
		return verbs.ErrInvalidState
	}
	if q.sqPost-q.sqDone >= uint64(len(q.sq)) {
		return verbs.ErrQueueFull
	}
	e := &q.sq[q.sqPost%uint64(len(q.sq))]
	need := verbs.Access(0)
	switch wr.Op {
	case verbs.OpRead:
		need = verbs.AccessLocalWrite
		if len(wr.SGL) != 1 {
			return fmt.Errorf("read needs one sink SGE: %w", verbs.ErrInvalidSGE)
		}
	case verbs.OpSend, verbs.OpSendInv, verbs.OpWrite, verbs.OpLocalInv:
	default:
		return fmt.Errorf("opcode %d: %w", wr.Op, verbs.ErrInvalidState)
	}
	n, total, err := q.resolve(wr.SGL, need, &e.sgl)
	if err != nil {
		return fmt.Errorf("post send: %w", err)
	}
	*e = sqe{id: wr.ID, op: wr.Op, flags: wr.Flags, remote: wr.RemoteAddr, rkey: wr.RKey, invKey: wr.InvalidateKey,
		sgl: e.sgl, nsge: n, length: total, signaled: q.sigAll || wr.Flags&verbs.FlagSignaled != 0}
	q.sqPost++
	q.kickTx()
	return nil
}

func (q *QP) PostRecv(wr *verbs.RecvWR) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != verbs.QPRTS && q.state != verbs.QPInit {
		return verbs.ErrInvalidState
	}
	if q.rqPost-q.rqHead >= uint64(len(q.rq)) {
		return verbs.ErrQueueFull
	}
	e := &q.rq[q.rqPost%uint64(len(q.rq))]
	n, total, err := q.resolve(wr.SGL, verbs.AccessLocalWrite, &e.sgl)
	if err != nil {
		return fmt.Errorf("post recv: %w", err)
	}
	e.id, e.nsge, e.length = wr.ID, n, total
	q.rqPost++
	return nil
}

func (q *QP) kickTx() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

func (q *QP) State() verbs.QPState {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.state
}

func (q *QP) Err() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

func (q *QP) Done() <-chan struct{} { return q.done }

func (q *QP) Stats() verbs.QPStats {
	s := &q.st
	return verbs.QPStats{
		TxMessages: s.txMsgs.Load(), RxMessages: s.rxMsgs.Load(), TxFPDUs: s.txFPDUs.Load(), RxFPDUs: s.rxFPDUs.Load(),
		TxBytes: s.txBytes.Load(), RxBytes: s.rxBytes.Load(), PlacedBytes: s.placed.Load(), PlaceCopies: s.copies.Load(),
		AccessViolations: s.violations.Load(), CRCErrors: s.crcErrs.Load(), MarkerErrors: s.markerErrs.Load(),
		TerminatesSent: s.termSent.Load(), TerminatesReceived: s.termRecv.Load(),
	}
}

func (q *QP) LocalAddr() net.Addr {
	if q.stream == nil {
		return nil
	}
	return q.stream.LocalAddr()
}

func (q *QP) RemoteAddr() net.Addr {
	if q.stream == nil {
		return nil
	}
	return q.stream.RemoteAddr()
}

// Close disconnects and flushes outstanding work requests.
func (q *QP) Close() error {
	q.fail(verbs.ErrClosed, verbs.QPClosed)
	q.wg.Wait()
	return nil
}

// start enters full operation on s with the negotiated parameters and runs the rx and tx loops.
func (q *QP) start(s Stream, txMarkers, rxMarkers, crc bool, leftover []byte) {
	q.mu.Lock()
	q.stream = s
	q.framer = mpa.NewFramer(txMarkers, crc)
	q.deframer = mpa.NewDeframer(rxMarkers, crc, 0)
	q.mulpdu = mpa.MULPDU(s.MSS(), txMarkers)
	q.reads = make([]uint64, q.ord)
	q.irq = make([]irqe, q.ird)
	q.tx.init()
	q.state = verbs.QPRTS
	q.mu.Unlock()
	q.wg.Add(2)
	go q.runRx(leftover)
	go q.runTx()
	q.kickTx()
}

// fail leaves RTS for state with err, closes the stream and flushes every outstanding WR.
func (q *QP) fail(err error, state verbs.QPState) {
	q.mu.Lock()
	if q.state == verbs.QPError || q.state == verbs.QPClosed {
		q.mu.Unlock()
		return
	}
	q.state, q.err = state, err
	// Flush: complete everything not yet done in posting order.
	for c := q.sqDone; c < q.sqPost; c++ {
		e := &q.sq[c%uint64(len(q.sq))]
		if !e.done {
			e.done, e.status = true, verbs.StatusFlushed
		}
	}
	q.sqTx = q.sqPost
	q.reapLocked()
	for ; q.rqHead < q.rqPost; q.rqHead++ {
		e := &q.rq[q.rqHead%uint64(len(q.rq))]
		q.rcq.push(verbs.WC{ID: e.id, Status: verbs.StatusFlushed, Op: verbs.WCRecv, QP: q})
	}
	s := q.stream
	linger := q.linger
	q.mu.Unlock()
	q.closeOnce.Do(func() { close(q.done) })
	if s == nil {
		return
	}
	// After a Terminate the peer must still read it: half-close and let rx drain until EOF (bounded).
	if cw, ok := s.(interface{ CloseWrite() error }); ok && linger {
		_ = cw.CloseWrite()
		time.AfterFunc(lingerTimeout, func() { _ = s.Close() })
		return
	}
	_ = s.Close()
}

// reapLocked completes finished send WRs in posting order.
func (q *QP) reapLocked() {
	for q.sqDone < q.sqTx {
		e := &q.sq[q.sqDone%uint64(len(q.sq))]
		if !e.done {
			return
		}
		if e.signaled || e.status != verbs.StatusSuccess {
			wc := verbs.WC{ID: e.id, Status: e.status, QP: q}
			switch e.op {
			case verbs.OpWrite:
				wc.Op, wc.ByteLen = verbs.WCWrite, uint32(e.length)
			case verbs.OpRead:
				wc.Op, wc.ByteLen = verbs.WCRead, uint32(e.length)
			case verbs.OpLocalInv:
				wc.Op = verbs.WCLocalInv
			default:
				wc.Op, wc.ByteLen = verbs.WCSend, uint32(e.length)
			}
			q.scq.push(wc)
		}
		q.sqDone++
	}
}

// terminate queues a Terminate for the tx loop (RFC 5040 §6.x: the stream is closed after it).
func (q *QP) terminate(layer, etype, code uint8, segLen int, ddpHdr, rdmaHdr []byte) {
	q.mu.Lock()
	if q.term == nil && q.state == verbs.QPRTS {
		t := &q.termQ
		*t = termReq{layer: layer, etype: etype, code: code, segLen: uint16(segLen)}
		t.ddpN = copy(t.ddpHdr[:], ddpHdr)
		t.rdmaN = copy(t.rdmaHdr[:], rdmaHdr)
		q.term = t
	}
	q.mu.Unlock()
	q.kickTx()
}
