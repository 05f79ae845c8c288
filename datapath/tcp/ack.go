package tcp

// processAck handles the ACK field (RFC 9293 §3.10.7.4 fifth check, RFC 5961 §5, RFC 5681,
// RFC 6582, RFC 6675). It returns false when the segment must be dropped.
func (c *Conn) processAck(s *Segment) bool {
	e := c.eng
	ack := s.Ack
	if ack.GT(c.sndMax) {
		c.Stats.DroppedIn.Add(1)
		c.challengeAck()
		return false
	}
	if ack.LT(c.sndUna.Add(-max(c.maxSndWnd, 1))) {
		c.Stats.DroppedIn.Add(1)
		c.challengeAck()
		return false
	}
	oldWnd := c.sndWnd
	if ack.GEQ(c.sndUna) && (c.sndWl1.LT(s.Seq) || (c.sndWl1 == s.Seq && c.sndWl2.LEQ(ack))) {
		c.sndWnd = int(s.Window) << c.sndWscale
		c.sndWl1, c.sndWl2 = s.Seq, ack
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		if c.sndWnd > 0 && c.persistAt != 0 {
			c.persistAt = 0
			c.probes = 0
			e.markDirty(c)
		}
		if c.sndWnd > oldWnd {
			e.markDirty(c)
		}
	}
	if c.sackOK && s.Opts.NSACK > 0 {
		c.updateScoreboard(s)
	}
	if ack.GT(c.sndUna) {
		acked := ack.Sub(c.sndUna)
		// RTT (RFC 7323 §4.1 with timestamps; otherwise one timed segment, Karn's rule).
		if c.tsOK && s.Opts.HasTS && s.Opts.TSEcr != 0 {
			if d := int64(e.tsNow()+c.tsOffset-s.Opts.TSEcr) * 1e6; d >= 0 && d < 60e9 {
				c.rttSample(max(d, 1e6/2))
			}
		} else if c.rttTiming && ack.GT(c.rttSeq) {
			c.rttTiming = false
			c.rttSample(e.now - c.rttAt)
		}
		dataAcked := acked
		finAcked := c.finQueued && ack == c.finSeq().Add(1)
		if finAcked {
			dataAcked--
		}
		c.sndUna = ack
		c.unaIdx += uint64(dataAcked)
		c.freeAcked()
		if c.sndNxt.LT(ack) {
			c.sndNxt = ack
		}
		c.retries, c.backoff, c.probes = 0, 0, 0
		c.advancedAt = e.now
		c.tlpOut = false
		c.pruneScoreboard()
		if c.highRxt.LT(c.sndUna) {
			c.highRxt = c.sndUna
		}
		switch {
		case c.inRecovery && ack.GEQ(c.recoverSeq):
			// Full acknowledgment: leave recovery (RFC 6582 §3.2 step 3).
			c.inRecovery = false
			if c.sackOK {
				c.cc.SetCwnd(c.cc.Ssthresh())
			} else {
				c.cc.SetCwnd(min(c.cc.Ssthresh(), max(c.flight(), c.sndMSS)+c.sndMSS))
			}
			c.nSacked = 0
		case c.inRecovery:
			// Partial acknowledgment (RFC 6582 §3.2 step 4).
			if !c.sackOK {
				c.rtxHead = true
				cw := c.cc.Cwnd() - acked
				if acked >= c.sndMSS {
					cw += c.sndMSS
				}
				c.cc.SetCwnd(cw)
			}
		default:
			c.cc.OnAck(dataAcked, e.now, c.srtt)
		}
		c.dupAcks = 0
		if c.sndUna == c.sndMax {
			c.rtoAt = 0
		} else {
			c.rtoAt = e.now + c.rto
		}
		c.armTLP()
		if c.sbWaiting.Load() {
			notify(c.writable)
		}
		e.markDirty(c)
		c.publishCC()
		if finAcked {
			switch c.state {
			case StateFinWait1:
				c.setState(StateFinWait2)
				if c.appClosed.Load() {
					c.twAt = e.now + int64(e.cfg.TimeWait)
				}
			case StateClosing:
				c.enterTimeWait()
			case StateLastAck:
				c.remove(nil)
				return false
			}
		}
		return true
	}
	// ack == snd.una (or older, within the allowed range).
	if ack == c.sndUna && s.DataLen() == 0 && s.Flags&(FlagSYN|FlagFIN) == 0 &&
		c.sndWnd == oldWnd && c.flight() > 0 {
		c.Stats.DupAcksIn.Add(1)
		c.onDupAck()
	}
	return true
}

// onDupAck implements the duplicate-ACK side of fast retransmit/recovery.
func (c *Conn) onDupAck() {
	e := c.eng
	c.dupAcks++
	e.markDirty(c) // limited transmit may send new data
	if c.inRecovery {
		if !c.sackOK {
			c.cc.SetCwnd(c.cc.Cwnd() + c.sndMSS) // RFC 5681 §3.2 step 4
		}
		e.markDirty(c)
		return
	}
	thresh := c.dupThresh()
	enter := c.dupAcks >= thresh || (c.sackOK && c.sackedBytes() >= thresh*c.sndMSS)
	// RFC 6582 §3.2 step 2: no new recovery until snd.una passes the previous recover point.
	if !enter || (c.recoverSeq != 0 && c.sndUna.Sub(c.recoverSeq) < 0) {
		return
	}
	c.enterRecovery()
}

// dupThresh is 3, lowered for small flights with nothing new to send (early retransmit,
// RFC 5827 §3.1).
func (c *Conn) dupThresh() int {
	segs := (c.flight() + c.sndMSS - 1) / c.sndMSS
	unsent := c.sq.head.Load() > c.idxOfSeq(c.sndMax)
	if segs < 4 && !unsent {
		return max(segs-1, 1)
	}
	return 3
}

func (c *Conn) enterRecovery() {
	e := c.eng
	c.inRecovery = true
	c.recoverSeq = c.sndMax
	c.Stats.FastRetransmits.Add(1)
	c.cc.OnCongestion(c.flight(), e.now)
	c.highRxt = c.sndUna
	// RFC 6675 §5 / RFC 6582 §3.2 step 2: retransmit the first unacknowledged segment now.
	c.rtxHead = true
	if !c.sackOK {
		c.cc.SetCwnd(c.cc.Ssthresh() + 3*c.sndMSS)
	}
	c.rtoAt = e.now + c.rto
	e.markDirty(c)
	c.publishCC()
}

// updateScoreboard merges the segment's SACK blocks (above snd.una, at most snd.max).
func (c *Conn) updateScoreboard(s *Segment) {
	for i := 0; i < s.Opts.NSACK; i++ {
		b := s.Opts.SACK[i]
		if !b.Start.LT(b.End) || b.End.LEQ(c.sndUna) || b.End.GT(c.sndMax) {
			continue // D-SACK or bogus
		}
		if b.Start.LT(c.sndUna) {
			b.Start = c.sndUna
		}
		c.insertSack(b)
		c.eng.markDirty(c)
	}
	// Lost retransmission (a RACK-like rule): data sent after our last hole retransmission is
	// SACKed while the hole at snd.una is still missing, so that retransmission was lost too.
	// Retransmit the holes again.
	if c.inRecovery && c.nSacked > 0 && c.highRxt.GT(c.sndUna) && c.rxtHigh.GT(c.sndUna) &&
		c.sacked[c.nSacked-1].End.Sub(c.rxtHigh) >= c.sndMSS && c.sacked[0].Start.GT(c.sndUna) {
		c.highRxt = c.sndUna
		c.rxtHigh = c.sndMax
		c.Stats.LostRetransmits.Add(1)
		c.eng.markDirty(c)
	}
	// RACK-like time rule (RFC 8985 §6.2 in spirit): data above the hole at snd.una was
	// delivered, and that hole has been outstanding longer than an RTT plus a quarter (the
	// head segment was sent no later than snd.una last advanced): it is lost.
	if !c.inRecovery && c.flight() > 0 && c.nSacked > 0 && c.srtt > 0 && c.sacked[0].Start.GT(c.sndUna) &&
		c.eng.now-c.advancedAt > c.srtt+c.srtt/4 && (c.recoverSeq == 0 || c.sndUna.Sub(c.recoverSeq) >= 0) {
		c.Stats.RACKLosses.Add(1)
		c.enterRecovery()
		return
	}
	if !c.inRecovery && c.flight() > 0 && c.sackedBytes() >= c.dupThresh()*c.sndMSS &&
		(c.recoverSeq == 0 || c.sndUna.Sub(c.recoverSeq) >= 0) {
		c.enterRecovery()
	}
}

func (c *Conn) insertSack(b SACKBlock) {
	// Merge with overlapping/adjacent blocks; keep sorted.
	var tmp [maxScoreboard + 1]SACKBlock
	n := 0
	placed := false
	for i := 0; i < c.nSacked; i++ {
		x := c.sacked[i]
		if x.End.LT(b.Start) {
			tmp[n] = x
			n++
			continue
		}
		if b.End.LT(x.Start) {
			if !placed {
				tmp[n] = b
				n++
				placed = true
			}
			tmp[n] = x
			n++
			continue
		}
		b.Start = seqMin(b.Start, x.Start)
		b.End = seqMax(b.End, x.End)
	}
	if !placed {
		tmp[n] = b
		n++
	}
	if n > maxScoreboard {
		// Drop the highest block; it will be re-reported.
		n = maxScoreboard
	}
	copy(c.sacked[:], tmp[:n])
	c.nSacked = n
}

func (c *Conn) pruneScoreboard() {
	k := 0
	for i := 0; i < c.nSacked; i++ {
		b := c.sacked[i]
		if b.End.LEQ(c.sndUna) {
			continue
		}
		if b.Start.LT(c.sndUna) {
			b.Start = c.sndUna
		}
		c.sacked[k] = b
		k++
	}
	c.nSacked = k
}

func (c *Conn) sackedBytes() int {
	n := 0
	for i := 0; i < c.nSacked; i++ {
		n += c.sacked[i].End.Sub(c.sacked[i].Start)
	}
	return n
}

// pipe estimates bytes in flight (RFC 6675 §4): outstanding minus SACKed minus holes below the
// highest SACK that have not been retransmitted (deemed lost).
func (c *Conn) pipe() int {
	p := c.flight() - c.sackedBytes()
	if c.nSacked == 0 {
		return p
	}
	high := c.sacked[c.nSacked-1].End
	start := seqMax(c.sndUna, c.highRxt)
	if start.LT(high) {
		holes := high.Sub(start)
		for i := 0; i < c.nSacked; i++ {
			b := c.sacked[i]
			lo, hi := seqMax(b.Start, start), b.End
			if lo.LT(hi) {
				holes -= hi.Sub(lo)
			}
		}
		p -= holes
	}
	return max(p, 0)
}

// nextHole returns the next unSACKed range at or above HighRxt below the highest SACK (RFC 6675
// NextSeg rule 1).
func (c *Conn) nextHole() (Seq, int) {
	if c.nSacked == 0 {
		return 0, 0
	}
	p := seqMax(c.sndUna, c.highRxt)
	for i := 0; i < c.nSacked; i++ {
		b := c.sacked[i]
		if p.LT(b.Start) {
			n := min(b.Start.Sub(p), c.sndMSS)
			return p, n
		}
		p = seqMax(p, b.End)
	}
	return 0, 0
}

// rttSample updates SRTT/RTTVAR/RTO (RFC 6298 §2).
func (c *Conn) rttSample(r int64) {
	if r <= 0 {
		r = 1
	}
	if c.srtt == 0 {
		c.srtt = r
		c.rttvar = r / 2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	cfg := &c.eng.cfg
	c.rto = min(max(c.srtt+max(4*c.rttvar, int64(wheelTickNs)), int64(cfg.MinRTO)), int64(cfg.MaxRTO))
	c.Stats.SRTTMicros.Store(uint64(c.srtt / 1000))
}

func (c *Conn) publishCC() {
	c.Stats.CwndBytes.Store(uint64(c.cc.Cwnd()))
	c.Stats.SsthreshBy.Store(uint64(c.cc.Ssthresh()))
}
