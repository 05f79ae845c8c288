package tcp

// maxOOO bounds the out-of-order segments held per connection.
const maxOOO = 256

// processData handles segment text and FIN in ESTABLISHED / FIN-WAIT-1/2 (RFC 9293 §3.10.7.4
// seventh and eighth checks). It returns whether the frame was retained; for a multi-buffer
// packet, whether each continuation frame was is recorded in e.moreKept.
func (c *Conn) processData(s *Segment) (retained bool) {
	e := c.eng
	fin := s.Flags&FlagFIN != 0
	hadOOO := len(c.ooo) > 0
	seq := s.Seq
	var st pieceResult
	for k := 0; k <= len(s.More); k++ {
		p := s.Payload
		if k > 0 {
			p = s.More[k-1]
		}
		last := k == len(s.More)
		kept, r := c.dataPiece(seq, p, fin && last)
		seq = seq.Add(len(p))
		if k == 0 {
			retained = kept
		} else {
			e.moreKept[k-1] = kept
		}
		st |= r
		if r&pieceAborted != 0 {
			return retained
		}
	}
	if st&pieceOutOfOrder != 0 {
		// One immediate duplicate ACK per out-of-order segment, with SACK (RFC 5681 §4.2):
		// the sender counts them, so they must not be coalesced.
		c.sendAckNow()
		return retained
	}
	if st&pieceInOrder == 0 {
		return retained
	}
	if st&pieceDelivered != 0 {
		c.segsUnacked++
	}
	if hadOOO {
		c.drainOOO()
		c.ackNow = true
	}
	if !c.ackNow {
		if c.segsUnacked >= 2 || e.cfg.DelayedAck < 0 {
			c.ackNow = true
		} else if c.delackAt == 0 {
			c.delackAt = e.now + int64(e.cfg.DelayedAck)
		}
	}
	if c.ackNow {
		e.markDirty(c)
	}
	return retained
}

// pieceResult says what dataPiece did with a piece of a segment's payload.
type pieceResult uint8

const (
	pieceInOrder    pieceResult = 1 << iota // reached the in-order path (data or FIN)
	pieceDelivered                          // payload queued for the application
	pieceOutOfOrder                         // held (or dropped) out of order
	pieceAborted                            // the connection was aborted
)

// dataPiece trims one piece of payload (starting at seq; fin if the segment's FIN follows it)
// to the window and delivers it, holds it out of order, or drops it. It returns whether the
// piece's frame was retained.
func (c *Conn) dataPiece(seq Seq, payload []byte, fin bool) (bool, pieceResult) {
	e := c.eng
	if d := c.rcvNxt.Sub(seq); d > 0 {
		if d >= len(payload) {
			// Entirely old, except perhaps the FIN.
			if !(fin && seq.Add(len(payload)) == c.rcvNxt) {
				c.ackNow = true
				e.markDirty(c)
				return false, 0
			}
			payload = payload[len(payload):]
		} else {
			payload = payload[d:]
		}
		seq = c.rcvNxt
	}
	wnd := max(c.rcvAdv.Sub(c.rcvNxt), 0)
	if over := seq.Add(len(payload)).Sub(c.rcvNxt.Add(wnd)); over > 0 {
		payload = payload[:max(len(payload)-over, 0)]
		fin = false
	}
	if len(payload) > 0 && c.appClosed.Load() {
		// Data for a fully closed socket: abort (RFC 9293 §3.10.4 / RFC 1122 4.2.2.13).
		c.abort(ErrAborted, true)
		return false, pieceAborted
	}
	if seq != c.rcvNxt {
		c.Stats.OutOfOrderIn.Add(1)
		kept := false
		if len(payload) > 0 {
			kept = c.holdOOO(seq, payload, fin)
		}
		return kept, pieceOutOfOrder
	}
	r := pieceInOrder
	kept := false
	if len(payload) > 0 {
		if !c.deliver(payload) {
			c.Stats.DroppedIn.Add(1)
			c.ackNow = true
			e.markDirty(c)
			return false, 0
		}
		kept = true
		r |= pieceDelivered
		c.rcvNxt = c.rcvNxt.Add(len(payload))
	}
	if fin {
		c.onFin()
	}
	return kept, r
}

// deliver queues an in-order payload view for the application.
func (c *Conn) deliver(p []byte) bool {
	if c.viewsOut >= c.viewsCap || !c.rq.push(p) {
		return false
	}
	c.viewsOut++
	c.rcvHeld += len(p)
	c.Stats.BytesIn.Add(uint64(len(p)))
	if c.rdWaiting.Load() {
		notify(c.readable)
	}
	return true
}

// holdOOO keeps an out-of-order payload (retaining its frame), sorted by sequence number.
func (c *Conn) holdOOO(seq Seq, p []byte, fin bool) bool {
	end := seq.Add(len(p))
	i := len(c.ooo)
	for i > 0 && c.ooo[i-1].seq.GT(seq) {
		i--
	}
	// Fully covered by a neighbour: nothing new.
	if i > 0 {
		prev := c.ooo[i-1]
		if prev.seq.Add(len(prev.data)).GEQ(end) && !fin {
			return false
		}
	}
	if i < len(c.ooo) && c.ooo[i].seq == seq && len(c.ooo[i].data) >= len(p) && !fin {
		return false
	}
	if len(c.ooo) >= maxOOO || c.viewsOut+len(c.ooo) >= c.viewsCap {
		c.Stats.DroppedIn.Add(1)
		return false
	}
	c.ooo = append(c.ooo, oooSeg{})
	copy(c.ooo[i+1:], c.ooo[i:])
	c.ooo[i] = oooSeg{seq: seq, data: p, fin: fin}
	c.oooBytes += len(p)
	c.lastOOO = seq
	return true
}

// drainOOO moves held segments that became in-order to the application.
func (c *Conn) drainOOO() {
	e := c.eng
	k := 0
	for ; k < len(c.ooo); k++ {
		o := c.ooo[k]
		if o.seq.GT(c.rcvNxt) {
			break
		}
		c.oooBytes -= len(o.data)
		d := c.rcvNxt.Sub(o.seq)
		if d >= len(o.data) {
			if o.fin && o.seq.Add(len(o.data)) == c.rcvNxt && !c.finRcvd {
				c.onFin()
			}
			e.release(o.data)
			continue
		}
		p := o.data[d:]
		if !c.deliver(p) {
			e.release(o.data)
			continue
		}
		c.rcvNxt = c.rcvNxt.Add(len(p))
		if o.fin {
			c.onFin()
		}
	}
	if k > 0 {
		n := copy(c.ooo, c.ooo[k:])
		clear(c.ooo[n:])
		c.ooo = c.ooo[:n]
	}
}

// onFin processes a FIN that is in order (RFC 9293 §3.10.7.4 eighth check).
func (c *Conn) onFin() {
	e := c.eng
	if c.finRcvd {
		return
	}
	c.finRcvd = true
	c.rcvNxt = c.rcvNxt.Add(1)
	c.ackNow = true
	e.markDirty(c)
	c.finIn.Store(true)
	notify(c.readable)
	switch c.state {
	case StateSynRcvd, StateEstablished:
		c.setState(StateCloseWait)
	case StateFinWait1:
		if c.finQueued && c.sndUna == c.finSeq().Add(1) {
			c.enterTimeWait()
		} else {
			c.setState(StateClosing)
		}
	case StateFinWait2:
		c.enterTimeWait()
	}
}

func (c *Conn) enterTimeWait() {
	e := c.eng
	c.setState(StateTimeWait)
	c.rtoAt, c.persistAt, c.keepAt, c.delackAt, c.tlpAt = 0, 0, 0, 0, 0
	c.twAt = e.now + int64(e.cfg.TimeWait)
	c.releaseOOO()
	c.signalEstab()
	if c.sbWaiting.Load() {
		notify(c.writable)
	}
}

func (c *Conn) releaseOOO() {
	for i := range c.ooo {
		c.eng.release(c.ooo[i].data)
	}
	clear(c.ooo)
	c.ooo = c.ooo[:0]
	c.oooBytes = 0
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
