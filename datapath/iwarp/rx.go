package iwarp

import (
	"errors"

	"github.com/xtgt/xtgt/datapath/iwarp/ddp"
	"github.com/xtgt/xtgt/datapath/iwarp/mpa"
	"github.com/xtgt/xtgt/datapath/iwarp/rdmap"
	"github.com/xtgt/xtgt/datapath/verbs"
)

// errTerminated stops the deframer once a Terminate has been queued or received.
var errTerminated = errors.New("iwarp: stream terminated")

const (
	kindDiscard = iota
	kindTagged  // Write or Read Response: dst is the checked region span
	kindSend    // untagged Send: placed into the bound receive WR
	kindReadReq // Read Request: queued at EndFPDU
	kindTerm    // Terminate: handled at EndFPDU
	kindRTR     // peer-to-peer RTR: nothing placed
)

// rxState is the DDP/RDMAP receive side; it implements mpa.Sink and is owned by the rx loop.
type rxState struct {
	q        *QP
	hdr      [ddp.UntaggedHeaderLen + rdmap.MaxTerminateLen]byte
	hdrN     int
	hdrWant  int
	ulpdu    int
	payload  int
	kind     int
	op       rdmap.Opcode
	last     bool
	dst      []byte
	dstPos   int
	dead     bool
	msn      [3]uint32 // expected MSN per queue
	inMsg    bool      // a Send message is in progress
	rqe      *rqe
	sendOff  int
	invKey   uint32
	readSeq  uint64 // sq counter of the Read whose response is arriving
	readSeqV bool
	irq      irqe
}

func (q *QP) runRx(leftover []byte) {
	defer q.wg.Done()
	r := &q.rx
	r.q = q
	r.msn = [3]uint32{1, 1, 1}
	if len(leftover) > 0 {
		if err := q.deframer.Feed(leftover, r); err != nil {
			r.dead = true
			q.rxError(err)
		}
	}
	for {
		v, err := q.stream.Next()
		if err != nil {
			q.fail(verbs.ErrDisconnected, verbs.QPError)
			_ = q.stream.Close()
			return
		}
		if !r.dead {
			if err := q.deframer.Feed(v, r); err != nil {
				r.dead = true
				q.rxError(err)
			}
		}
		q.stream.Release()
	}
}

func (q *QP) rxError(err error) {
	switch {
	case errors.Is(err, errTerminated):
	case errors.Is(err, mpa.ErrCRC):
		q.st.crcErrs.Add(1)
		q.terminate(rdmap.LayerLLP, 0, rdmap.LLPCodeCRC, 0, nil, nil)
	case errors.Is(err, mpa.ErrMarker):
		q.st.markerErrs.Add(1)
		q.terminate(rdmap.LayerLLP, 0, rdmap.LLPCodeMarker, 0, nil, nil)
	case errors.Is(err, mpa.ErrULPDULength):
		q.terminate(rdmap.LayerLLP, 0, rdmap.LLPCodeMarker, 0, nil, nil)
	default:
		q.terminate(rdmap.LayerRDMAP, rdmap.ETypeLocalCatastrophic, rdmap.CodeUnspecified, 0, nil, nil)
	}
}

func (r *rxState) BeginFPDU(n int) error {
	r.ulpdu, r.hdrN, r.hdrWant, r.kind, r.dst, r.dstPos = n, 0, 2, kindDiscard, nil, 0
	return nil
}

func (r *rxState) ULPDU(p []byte) error {
	for len(p) > 0 {
		if r.hdrN < r.hdrWant {
			n := copy(r.hdr[r.hdrN:r.hdrWant], p)
			r.hdrN += n
			p = p[n:]
			if r.hdrN == 2 {
				if err := r.sizeHeader(); err != nil {
					return err
				}
			}
			if r.hdrN == r.hdrWant && r.hdrWant > 2 {
				if err := r.header(); err != nil {
					return err
				}
			}
			continue
		}
		switch r.kind {
		case kindTagged:
			n := copy(r.dst[r.dstPos:], p)
			r.dstPos += n
			r.q.st.placed.Add(uint64(n))
			r.q.st.copies.Add(1)
		case kindSend:
			r.placeSend(p)
		}
		r.q.st.rxBytes.Add(uint64(len(p)))
		return nil
	}
	return nil
}

// sizeHeader decides how many header octets to gather from the control fields.
func (r *rxState) sizeHeader() error {
	op := rdmap.CtrlOpcode(r.hdr[1])
	switch {
	case ddp.Header(r.hdr[:2]).Tagged():
		r.hdrWant = ddp.TaggedHeaderLen
	case op == rdmap.OpReadRequest:
		r.hdrWant = ddp.UntaggedHeaderLen + rdmap.ReadRequestLen
	case op == rdmap.OpTerminate:
		r.hdrWant = min(r.ulpdu, len(r.hdr))
	default:
		r.hdrWant = ddp.UntaggedHeaderLen
	}
	if r.hdrWant > r.ulpdu {
		return r.termOp(rdmap.CodeUnspecified)
	}
	return nil
}

func (r *rxState) ddpHdr() []byte { return r.hdr[:ddp.HeaderLen(r.hdr[0])] }

// term queues a Terminate naming the current segment and stops the stream.
func (r *rxState) term(layer, etype, code uint8, rdmaHdr []byte) error {
	r.q.terminate(layer, etype, code, r.ulpdu, r.ddpHdr(), rdmaHdr)
	return errTerminated
}

func (r *rxState) termOp(code uint8) error {
	return r.term(rdmap.LayerRDMAP, rdmap.ETypeRemoteOperation, code, nil)
}

// violation counts a refused access and terminates.
func (r *rxState) violation(layer, etype, code uint8, rdmaHdr []byte) error {
	r.q.st.violations.Add(1)
	return r.term(layer, etype, code, rdmaHdr)
}

// header validates a complete DDP/RDMAP header before any payload octet is placed.
func (r *rxState) header() error {
	q := r.q
	h := ddp.Header(r.hdr[:r.hdrN])
	tagged := h.Tagged()
	if h.Version() != ddp.Version {
		if tagged {
			return r.term(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeTaggedBadVersion, nil)
		}
		return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeUntaggedBadVersion, nil)
	}
	if rdmap.CtrlVersion(h.ULPCtrl()) != rdmap.Version {
		return r.termOp(rdmap.CodeInvalidVersion)
	}
	op := rdmap.CtrlOpcode(h.ULPCtrl())
	if op > rdmap.OpTerminate || op.Tagged() != tagged {
		return r.termOp(rdmap.CodeUnexpectedOpcode)
	}
	r.op, r.last = op, h.Last()
	r.payload = r.ulpdu - r.hdrWant
	if !tagged {
		if qn, _ := op.QN(); h.QN() != qn {
			return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeInvalidQN, nil)
		}
	}
	q.mu.Lock()
	wait := q.waitRTR
	q.mu.Unlock()
	if wait != 0 {
		return r.rtr(wait, h)
	}
	switch {
	case op == rdmap.OpWrite:
		return r.tagged(h)
	case op == rdmap.OpReadResponse:
		return r.readResponse(h)
	case op.IsSend():
		return r.send(h)
	case op == rdmap.OpReadRequest:
		return r.readRequest(h)
	default: // Terminate
		if r.msnCheck(h, ddp.QNTerminate) != nil {
			return errTerminated
		}
		r.kind = kindTerm
	}
	return nil
}

// rtr accepts only the negotiated zero-length ready-to-receive message (RFC 6581 §5).
func (r *rxState) rtr(want mpa.RTR, h ddp.Header) error {
	ok := false
	switch want {
	case mpa.RTRZeroWrite:
		ok = r.op == rdmap.OpWrite && r.payload == 0 && r.last
	case mpa.RTRZeroRead:
		ok = r.op == rdmap.OpReadRequest && rdmap.ReadRequest(r.hdr[ddp.UntaggedHeaderLen:r.hdrN]).Size() == 0
	case mpa.RTRZeroSend:
		ok = r.op == rdmap.OpSend && r.payload == 0 && r.last
	}
	if !ok {
		return r.term(rdmap.LayerLLP, 0, rdmap.LLPCodeNoMatchingRTR, nil)
	}
	if r.op == rdmap.OpReadRequest {
		rr := rdmap.ReadRequest(r.hdr[ddp.UntaggedHeaderLen:r.hdrN])
		r.irq = irqe{sinkSTag: rr.SinkSTag(), sinkTO: rr.SinkTO()}
		r.kind = kindReadReq
	} else {
		if r.op == rdmap.OpSend {
			r.msn[ddp.QNSend]++
		}
		r.kind = kindRTR
	}
	r.q.mu.Lock()
	r.q.waitRTR = 0
	r.q.mu.Unlock()
	return nil
}

// tagged checks an inbound RDMA Write (RFC 5040 §5.3, §8; RFC 5041 §5.2).
func (r *rxState) tagged(h ddp.Header) error {
	if r.payload == 0 {
		r.kind = kindDiscard // zero-length: nothing is accessed
		return nil
	}
	m := r.q.pd.dev.lookupMR(h.STag())
	switch {
	case m == nil:
		return r.violation(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeInvalidSTag, nil)
	case m.pd != r.q.pd:
		return r.violation(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeSTagNotAssoc, nil)
	case m.access&verbs.AccessRemoteWrite == 0:
		return r.violation(rdmap.LayerRDMAP, rdmap.ETypeRemoteProtection, rdmap.CodeAccessRights, nil)
	}
	off, wrap, ok := m.offset(h.TO(), r.payload)
	if wrap {
		return r.violation(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeTOWrap, nil)
	}
	if !ok {
		return r.violation(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeBaseBounds, nil)
	}
	r.kind, r.dst, r.dstPos = kindTagged, m.buf[off:off+r.payload], 0
	return nil
}

// readResponse checks a Read Response against the oldest outstanding Read (RFC 5040 §5.4, §5.5).
func (r *rxState) readResponse(h ddp.Header) error {
	q := r.q
	q.mu.Lock()
	if q.rtrRead {
		q.mu.Unlock()
		if r.payload != 0 || !r.last {
			return r.termOp(rdmap.CodeUnexpectedOpcode)
		}
		r.kind = kindRTR
		return nil
	}
	if q.rdN == 0 {
		q.mu.Unlock()
		return r.termOp(rdmap.CodeUnexpectedOpcode)
	}
	c := q.reads[q.rdHead]
	e := &q.sq[c%uint64(len(q.sq))]
	s := e.sgl[0]
	stag, sinkTO, got, length := e.sinkSTag, s.m.base+uint64(s.off), e.got, e.length
	q.mu.Unlock()
	if h.STag() != stag {
		return r.violation(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeInvalidSTag, nil)
	}
	if h.TO() != sinkTO+uint64(got) || got+r.payload > length || (r.last && got+r.payload != length) {
		return r.violation(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeBaseBounds, nil)
	}
	if !s.m.valid.Load() {
		return r.violation(rdmap.LayerDDP, ddp.ETypeTaggedBuffer, ddp.CodeInvalidSTag, nil)
	}
	r.readSeq, r.readSeqV = c, true
	r.kind, r.dst, r.dstPos = kindTagged, s.m.buf[s.off+got:s.off+got+r.payload], 0
	q.mu.Lock()
	e.got += r.payload
	q.mu.Unlock()
	return nil
}

func (r *rxState) msnCheck(h ddp.Header, qn int) error {
	if h.MSN() != r.msn[qn] {
		return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeMSNRange, nil)
	}
	return nil
}

// send binds or continues the receive WR for an untagged Send (RFC 5040 §5.3, RFC 5041 §5.3).
func (r *rxState) send(h ddp.Header) error {
	q := r.q
	if err := r.msnCheck(h, ddp.QNSend); err != nil {
		return err
	}
	if !r.inMsg {
		if h.MO() != 0 {
			return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeInvalidMO, nil)
		}
		q.mu.Lock()
		if q.rqHead == q.rqPost {
			q.mu.Unlock()
			return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeNoBuffer, nil)
		}
		r.rqe = &q.rq[q.rqHead%uint64(len(q.rq))]
		q.mu.Unlock()
		r.inMsg, r.sendOff, r.invKey = true, 0, 0
		if r.op.Invalidates() {
			r.invKey = h.ULP32()
			if m := q.pd.dev.lookupMR(r.invKey); m == nil || m.pd != q.pd {
				return r.term(rdmap.LayerRDMAP, rdmap.ETypeRemoteOperation, rdmap.CodeCannotInvalidate, nil)
			}
		}
	} else if int(h.MO()) != r.sendOff {
		return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeInvalidMO, nil)
	}
	if r.sendOff+r.payload > r.rqe.length {
		return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeTooLong, nil)
	}
	r.kind = kindSend
	return nil
}

func (r *rxState) placeSend(p []byte) {
	off := r.sendOff
	for i := 0; i < r.rqe.nsge && len(p) > 0; i++ {
		s := r.rqe.sgl[i]
		if off >= s.n {
			off -= s.n
			continue
		}
		n := copy(s.m.buf[s.off+off:s.off+s.n], p)
		p = p[n:]
		off = 0
		r.sendOff += n
		r.q.st.placed.Add(uint64(n))
		r.q.st.copies.Add(1)
	}
}

// readRequest checks an inbound RDMA Read Request (RFC 5040 §5.4, §8.1 and the IRD limit).
func (r *rxState) readRequest(h ddp.Header) error {
	q := r.q
	rrh := r.hdr[ddp.UntaggedHeaderLen:r.hdrN]
	rr := rdmap.ReadRequest(rrh)
	if err := r.msnCheck(h, ddp.QNReadRequest); err != nil {
		return err
	}
	if h.MO() != 0 || !r.last || r.payload != 0 {
		return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeInvalidMO, rrh)
	}
	q.mu.Lock()
	full := q.irqN >= len(q.irq)
	q.mu.Unlock()
	if full {
		return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeNoBuffer, rrh)
	}
	r.irq = irqe{sinkSTag: rr.SinkSTag(), sinkTO: rr.SinkTO()}
	if n := int(rr.Size()); n > 0 {
		m := q.pd.dev.lookupMR(rr.SourceSTag())
		prot := func(code uint8) error {
			return r.violation(rdmap.LayerRDMAP, rdmap.ETypeRemoteProtection, code, rrh)
		}
		switch {
		case m == nil:
			return prot(rdmap.CodeInvalidSTag)
		case m.pd != q.pd:
			return prot(rdmap.CodeSTagNotAssoc)
		case m.access&verbs.AccessRemoteRead == 0:
			return prot(rdmap.CodeAccessRights)
		}
		off, wrap, ok := m.offset(rr.SourceTO(), n)
		if wrap {
			return prot(rdmap.CodeTOWrap)
		}
		if !ok {
			return prot(rdmap.CodeBaseBounds)
		}
		if rr.SinkTO()+uint64(n) < rr.SinkTO() {
			return prot(rdmap.CodeTOWrap)
		}
		r.irq.src = m.buf[off : off+n]
	}
	r.kind = kindReadReq
	return nil
}

func (r *rxState) EndFPDU() error {
	q := r.q
	q.st.rxFPDUs.Add(1)
	if r.hdrN < r.hdrWant || r.hdrWant <= 2 {
		return r.termOp(rdmap.CodeUnspecified)
	}
	switch r.kind {
	case kindTagged:
		if r.op == rdmap.OpReadResponse && r.last && r.readSeqV {
			q.mu.Lock()
			e := &q.sq[r.readSeq%uint64(len(q.sq))]
			e.done, e.status = true, verbs.StatusSuccess
			q.rdHead = (q.rdHead + 1) % len(q.reads)
			q.rdN--
			q.reapLocked()
			q.mu.Unlock()
			r.readSeqV = false
			q.kickTx()
		}
	case kindSend:
		if r.last {
			r.completeSend()
		}
	case kindReadReq:
		q.mu.Lock()
		full := q.irqN >= len(q.irq)
		if !full {
			q.irq[(q.irqH+q.irqN)%len(q.irq)] = r.irq
			q.irqN++
		}
		q.mu.Unlock()
		if full {
			return r.term(rdmap.LayerDDP, ddp.ETypeUntaggedBuffer, ddp.CodeNoBuffer, nil)
		}
		r.msn[ddp.QNReadRequest]++
		r.irq = irqe{}
		q.kickTx()
	case kindRTR:
		q.mu.Lock()
		q.rtrRead = false
		q.mu.Unlock()
		q.kickTx()
	case kindTerm:
		q.st.termRecv.Add(1)
		te := &verbs.TermError{Layer: 0xf, Remote: true}
		if t, err := rdmap.ParseTerminate(r.hdr[ddp.UntaggedHeaderLen:r.hdrN]); err == nil {
			te.Layer, te.Type, te.Code = t.Layer(), t.EType(), t.Code()
		}
		q.fail(te, verbs.QPError)
		return errTerminated
	}
	if r.last {
		q.st.rxMsgs.Add(1)
	}
	return nil
}

func (r *rxState) completeSend() {
	q := r.q
	wc := verbs.WC{Op: verbs.WCRecv, ByteLen: uint32(r.sendOff), QP: q}
	if r.op.Solicited() {
		wc.Flags |= verbs.WCSolicited
	}
	if r.op.Invalidates() {
		if m := q.pd.dev.lookupMR(r.invKey); m != nil && m.pd == q.pd {
			m.valid.Store(false)
		}
		wc.Flags |= verbs.WCWithInvalidate
		wc.InvalidatedKey = r.invKey
	}
	q.mu.Lock()
	wc.ID = r.rqe.id
	q.rqHead++
	q.mu.Unlock()
	q.rcq.push(wc)
	r.msn[ddp.QNSend]++
	r.inMsg, r.rqe = false, nil
}
