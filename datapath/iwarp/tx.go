package iwarp

import (
	"github.com/xtgt/xtgt/datapath/iwarp/ddp"
	"github.com/xtgt/xtgt/datapath/iwarp/mpa"
	"github.com/xtgt/xtgt/datapath/iwarp/rdmap"
	"github.com/xtgt/xtgt/datapath/verbs"
)

const (
	txBatchBytes = 1 << 20 // flush the gather list at this many bytes
	txBatchIOV   = 4096
)

// txState is owned by the tx loop.
type txState struct {
	iov      [][]byte
	iovBytes int
	hdr      []byte
	pieces   [][]byte
	msn      [3]uint32 // next MSN per untagged queue (RFC 5041 §5.3: starts at 1)
}

func (t *txState) init() {
	t.iov = make([][]byte, 0, txBatchIOV+2048)
	t.hdr = make([]byte, 0, 64)
	t.pieces = make([][]byte, 0, 2*verbs.MaxSGELimit)
	t.msn = [3]uint32{1, 1, 1}
}

func (q *QP) runTx() {
	defer q.wg.Done()
	for {
		select {
		case <-q.kick:
		case <-q.done:
			return
		}
		for q.txOnce() {
		}
	}
}

// txOnce sends one unit of work and reports whether there may be more.
func (q *QP) txOnce() bool {
	q.mu.Lock()
	if q.state != verbs.QPRTS {
		q.mu.Unlock()
		return false
	}
	if t := q.term; t != nil {
		q.mu.Unlock()
		q.sendTerminate(t)
		return false
	}
	if q.waitRTR != 0 {
		q.mu.Unlock()
		return false
	}
	if r := q.sendRTR; r != 0 {
		q.sendRTR = 0
		q.mu.Unlock()
		return q.sendRTRMsg(r) == nil
	}
	if q.irqN > 0 {
		r := q.irq[q.irqH]
		q.irq[q.irqH] = irqe{}
		q.irqH = (q.irqH + 1) % len(q.irq)
		q.irqN--
		q.mu.Unlock()
		return q.txErr(q.sendTagged(rdmap.OpReadResponse, r.sinkSTag, r.sinkTO, r.src, nil, 0))
	}
	if q.sqTx == q.sqPost {
		q.mu.Unlock()
		return false
	}
	c := q.sqTx
	e := &q.sq[c%uint64(len(q.sq))]
	if (e.op == verbs.OpRead && q.rdN == len(q.reads)) || (e.flags&verbs.FlagFence != 0 && q.rdN > 0) {
		q.mu.Unlock() // ORD reached or fenced: the Read Response that frees it kicks us
		return false
	}
	q.sqTx++
	if e.op == verbs.OpRead {
		q.reads[(q.rdHead+q.rdN)%len(q.reads)] = c
		q.rdN++
	}
	q.mu.Unlock()

	var err error
	status := verbs.StatusSuccess
	switch e.op {
	case verbs.OpWrite:
		err = q.sendTagged(rdmap.OpWrite, e.rkey, e.remote, nil, e.sgl[:e.nsge], e.length)
	case verbs.OpRead:
		err = q.sendReadRequest(e)
	case verbs.OpSend, verbs.OpSendInv:
		op := rdmap.OpSend
		if e.op == verbs.OpSendInv {
			op = rdmap.OpSendInv
		}
		if e.flags&verbs.FlagSolicited != 0 {
			op += 2 // Send→Send with SE, Send with Invalidate→Send with SE and Invalidate
		}
		err = q.sendUntagged(op, ddp.QNSend, e.invKey, nil, e.sgl[:e.nsge], e.length)
	case verbs.OpLocalInv:
		if m := q.pd.dev.lookupAnyMR(e.invKey); m != nil && m.pd == q.pd {
			m.valid.Store(false)
		} else {
			status = verbs.StatusLocalProtectionError
		}
	}
	if err != nil {
		return q.txErr(err)
	}
	if e.op != verbs.OpRead {
		q.mu.Lock()
		e.done, e.status = true, status
		q.reapLocked()
		q.mu.Unlock()
	}
	return true
}

func (q *QP) txErr(err error) bool {
	if err != nil {
		q.fail(err, verbs.QPError)
		return false
	}
	return true
}

// flush writes the pending gather list.
func (q *QP) flush() error {
	t := &q.tx
	if len(t.iov) == 0 {
		return nil
	}
	err := q.stream.Writev(t.iov)
	clear(t.iov) // drop references to payload
	t.iov, t.iovBytes = t.iov[:0], 0
	q.framer.Reset()
	return err
}

func (q *QP) appendFPDU(payloadLen int) error {
	t := &q.tx
	t.iov = q.framer.AppendFPDU(t.iov, t.hdr, t.pieces)
	t.iovBytes += payloadLen + len(t.hdr)
	q.st.txFPDUs.Add(1)
	q.st.txBytes.Add(uint64(payloadLen))
	if t.iovBytes >= txBatchBytes || len(t.iov) >= txBatchIOV {
		return q.flush()
	}
	return nil
}

// gather sets tx.pieces to the next n bytes of the SGL (or flat) starting at message offset off.
func (q *QP) gather(flat []byte, sgl []seg, off, n int) {
	t := &q.tx
	t.pieces = t.pieces[:0]
	if flat != nil {
		if n > 0 {
			t.pieces = append(t.pieces, flat[off:off+n])
		}
		return
	}
	for _, s := range sgl {
		if n == 0 {
			return
		}
		if off >= s.n {
			off -= s.n
			continue
		}
		k := min(s.n-off, n)
		t.pieces = append(t.pieces, s.m.buf[s.off+off:s.off+off+k])
		n -= k
		off = 0
	}
}

// sendTagged sends a tagged message (RDMA Write or Read Response) of length bytes from flat or sgl.
func (q *QP) sendTagged(op rdmap.Opcode, stag uint32, to uint64, flat []byte, sgl []seg, length int) error {
	if flat != nil {
		length = len(flat)
	}
	max := q.mulpdu - ddp.TaggedHeaderLen
	t := &q.tx
	for off := 0; ; {
		n := min(length-off, max)
		last := off+n == length
		t.hdr = ddp.AppendTagged(t.hdr[:0], last, rdmap.Ctrl(op), stag, to+uint64(off))
		q.gather(flat, sgl, off, n)
		if err := q.appendFPDU(n); err != nil {
			return err
		}
		off += n
		if last {
			break
		}
	}
	q.st.txMsgs.Add(1)
	return q.flush()
}

// sendUntagged sends a message on queue qn; extra is an RDMAP header placed after the DDP header.
func (q *QP) sendUntagged(op rdmap.Opcode, qn uint32, ulp32 uint32, extra []byte, sgl []seg, length int) error {
	t := &q.tx
	max := q.mulpdu - ddp.UntaggedHeaderLen - len(extra)
	msn := t.msn[qn]
	t.msn[qn]++
	for off := 0; ; {
		n := min(length-off, max)
		last := off+n == length
		t.hdr = ddp.AppendUntagged(t.hdr[:0], last, rdmap.Ctrl(op), ulp32, qn, msn, uint32(off))
		t.hdr = append(t.hdr, extra...)
		q.gather(nil, sgl, off, n)
		if err := q.appendFPDU(n); err != nil {
			return err
		}
		off += n
		if last {
			break
		}
	}
	q.st.txMsgs.Add(1)
	return q.flush()
}

func (q *QP) sendReadRequest(e *sqe) error {
	s := e.sgl[0]
	var rr [rdmap.ReadRequestLen]byte
	sinkTO := s.m.base + uint64(s.off)
	q.mu.Lock()
	e.sinkSTag = s.m.stag.Load()
	q.mu.Unlock()
	rdmap.AppendReadRequest(rr[:0], e.sinkSTag, sinkTO, uint32(e.length), e.rkey, e.remote)
	return q.sendUntagged(rdmap.OpReadRequest, ddp.QNReadRequest, 0, rr[:], nil, 0)
}

// sendRTRMsg sends the RFC 6581 ready-to-receive message chosen in the handshake.
func (q *QP) sendRTRMsg(r mpa.RTR) error {
	var err error
	switch r {
	case mpa.RTRZeroWrite:
		err = q.sendTagged(rdmap.OpWrite, 0, 0, nil, nil, 0)
	case mpa.RTRZeroRead:
		var rr [rdmap.ReadRequestLen]byte
		rdmap.AppendReadRequest(rr[:0], 0, 0, 0, 0, 0)
		err = q.sendUntagged(rdmap.OpReadRequest, ddp.QNReadRequest, 0, rr[:], nil, 0)
	default:
		err = q.sendUntagged(rdmap.OpSend, ddp.QNSend, 0, nil, nil, 0)
	}
	if err != nil {
		q.fail(err, verbs.QPError)
	}
	return err
}

func (q *QP) sendTerminate(t *termReq) {
	var buf [rdmap.MaxTerminateLen]byte
	b := rdmap.AppendTerminate(buf[:0], t.layer, t.etype, t.code, t.segLen, t.ddpHdr[:t.ddpN], t.rdmaHdr[:t.rdmaN])
	err := q.sendUntagged(rdmap.OpTerminate, ddp.QNTerminate, 0, b, nil, 0)
	q.st.termSent.Add(1)
	te := &verbs.TermError{Layer: t.layer, Type: t.etype, Code: t.code}
	if err != nil {
		q.fail(err, verbs.QPError)
		return
	}
	q.mu.Lock()
	q.linger = true
	q.mu.Unlock()
	q.fail(te, verbs.QPError)
}
