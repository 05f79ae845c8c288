package tcp

import "errors"

// inputMulti processes a multi-buffer packet (frames[1:] continue its payload) and releases
// the frames not retained.
func (e *Engine) inputMulti(frames [][]byte) {
	more := frames[1:]
	clear(e.moreKept[:len(more)])
	if !e.input(frames[0], more) {
		e.release(frames[0])
	}
	for k, f := range more {
		if !e.moreKept[k] {
			e.release(f)
		}
	}
	clear(e.moreKept[:len(more)])
}

// input processes one received packet (a frame, continued in more for a multi-buffer one); it
// reports whether the first frame was retained (its payload was queued for the application or
// held out of order); processData records the continuation frames' fate in e.moreKept.
func (e *Engine) input(f []byte, more [][]byte) bool {
	s := &e.seg
	if err := parseFrame(f, more, s, e.csumMode); err != nil {
		if err != errPartialChecksum {
			e.countParseError(err)
			return false
		}
		e.Stats.PartialChecksums.Add(1)
	}
	if !e.isLocal(s.Dst) || s.DstMAC != e.mac && s.DstMAC[0]&1 == 0 {
		e.Stats.NotForUs.Add(1)
		return false
	}
	key := connKey{raddr: s.Src, laddr: s.Dst, rport: s.SrcPort, lport: s.DstPort}
	if c := e.conns[key]; c != nil {
		return c.input(s)
	}
	if l := e.listeners[s.DstPort]; l != nil {
		e.listenInput(l, s, key)
		return false
	}
	e.Stats.NoConnection.Add(1)
	e.sendReset(s)
	return false
}

func (e *Engine) countParseError(err error) {
	e.Stats.ParseErrors.Add(1)
	switch {
	case errors.Is(err, ErrTCPChecksum), errors.Is(err, ErrIPChecksum):
		e.Stats.BadChecksum.Add(1)
	case errors.Is(err, ErrDataOffset), errors.Is(err, ErrIPHeader), errors.Is(err, ErrShort):
		e.Stats.BadOffset.Add(1)
	case errors.Is(err, ErrOptionOverrun), errors.Is(err, ErrOptionLength):
		e.Stats.BadOptions.Add(1)
	case errors.Is(err, ErrBadFlags):
		e.Stats.BadFlags.Add(1)
	case errors.Is(err, ErrNotIP), errors.Is(err, ErrNotTCP), errors.Is(err, ErrFragment):
		e.Stats.NotForUs.Add(1)
	}
}

// listenInput handles a segment for a listening port (RFC 9293 §3.10.7.2).
func (e *Engine) listenInput(l *Listener, s *Segment, key connKey) {
	switch {
	case s.Flags&FlagRST != 0:
		return
	case s.Flags&FlagACK != 0:
		e.Stats.NoConnection.Add(1)
		e.sendReset(s)
		return
	case s.Flags&FlagSYN == 0:
		return
	}
	if l.halfOpen >= e.cfg.SynBacklog || len(l.accept) >= cap(l.accept) {
		e.Stats.SynBacklogDrops.Add(1)
		return
	}
	c := e.newConn(key, s.SrcMAC)
	c.listener = l
	l.halfOpen++
	c.irs = s.Seq
	c.rcvNxt = s.Seq.Add(1)
	c.rcvAdv = c.rcvNxt
	c.lastAckSent = c.rcvNxt
	c.negotiate(&s.Opts)
	c.sndWnd = int(s.Window)
	c.maxSndWnd = c.sndWnd
	c.iss = e.isn()
	c.sndUna = c.iss
	c.sndNxt = c.iss.Add(1)
	c.sndMax = c.sndNxt
	c.setState(StateSynRcvd)
	c.synAt = e.now
	c.emit(FlagSYN|FlagACK, c.iss, 0)
	c.rtoAt = e.now + c.rto
	c.rearm()
}

// input processes a segment for an existing connection (RFC 9293 §3.10.7.3–4).
func (c *Conn) input(s *Segment) (retained bool) {
	e := c.eng
	c.Stats.SegsIn.Add(1)
	switch c.state {
	case StateSynSent:
		c.inputSynSent(s)
		c.rearm()
		return false
	case StateClosed:
		e.sendReset(s)
		return false
	}
	defer c.rearm()
	segLen := s.Len()
	rst := s.Flags&FlagRST != 0

	// PAWS (RFC 7323 §5.3).
	if c.tsOK && s.Opts.HasTS && !rst && c.state != StateSynRcvd {
		if int32(s.Opts.TSVal-c.tsRecent) < 0 && e.now-c.tsRecentAt < int64(24*24*3600)*1e9 {
			c.Stats.PAWSDrops.Add(1)
			c.Stats.DroppedIn.Add(1)
			c.sendAckNow()
			return false
		}
	}

	// Acceptability (RFC 9293 §3.10.7.4 first check).
	wnd := max(c.rcvAdv.Sub(c.rcvNxt), 0)
	ok := false
	switch {
	case segLen == 0 && wnd == 0:
		ok = s.Seq == c.rcvNxt
	case segLen == 0:
		ok = s.Seq.InWindow(c.rcvNxt, wnd)
	case wnd == 0:
		ok = false
	default:
		ok = s.Seq.InWindow(c.rcvNxt, wnd) || s.Seq.Add(segLen-1).InWindow(c.rcvNxt, wnd)
	}
	zeroWndData := false
	if !ok && wnd == 0 && s.Seq == c.rcvNxt && !rst {
		// Zero window: still process the ACK (RFC 9293 §3.10.7.4 note), drop the data.
		ok, zeroWndData = true, true
	}
	if !ok {
		c.Stats.DroppedIn.Add(1)
		if !rst {
			if c.state == StateSynRcvd && s.Flags&FlagSYN != 0 && s.Seq == c.irs {
				c.emit(FlagSYN|FlagACK, c.iss, 0) // retransmitted SYN
			} else {
				c.sendAckNow()
			}
		}
		return false
	}

	// RST (RFC 5961 §3.2).
	if rst {
		if s.Seq == c.rcvNxt {
			switch c.state {
			case StateSynRcvd:
				c.remove(ErrConnRefused)
			case StateClosing, StateLastAck, StateTimeWait:
				c.remove(nil)
			default:
				c.remove(ErrConnReset)
			}
			return false
		}
		c.challengeAck()
		return false
	}

	// SYN in a synchronized state (RFC 5961 §4.2).
	if s.Flags&FlagSYN != 0 {
		if c.state == StateSynRcvd && s.Seq == c.irs {
			c.emit(FlagSYN|FlagACK, c.iss, 0)
			return false
		}
		c.challengeAck()
		return false
	}

	if s.Flags&FlagACK == 0 {
		c.Stats.DroppedIn.Add(1)
		return false
	}
	c.lastRecv = e.now
	c.kaProbes = 0

	if c.state == StateSynRcvd {
		if !(s.Ack.GT(c.sndUna) && s.Ack.LEQ(c.sndMax)) {
			e.sendReset(s)
			return false
		}
		c.sndUna = c.iss.Add(1)
		c.unaIdx = 0
		c.sndWnd = int(s.Window) << c.sndWscale
		c.maxSndWnd = c.sndWnd
		c.sndWl1, c.sndWl2 = s.Seq, s.Ack
		if c.retries == 0 {
			c.rttSample(e.now - c.synAt)
		}
		c.retries, c.backoff = 0, 0
		c.rtoAt = 0
		c.setState(StateEstablished)
		if l := c.listener; l != nil {
			l.halfOpen--
			select {
			case l.accept <- c:
			default:
				e.Stats.AcceptQueueDrops.Add(1)
				c.abort(ErrAborted, true)
				return false
			}
		}
		c.signalEstab()
	}

	// Timestamp update (RFC 7323 §4.3).
	if c.tsOK && s.Opts.HasTS && s.Seq.LEQ(c.lastAckSent) && int32(s.Opts.TSVal-c.tsRecent) >= 0 {
		c.tsRecent = s.Opts.TSVal
		c.tsRecentAt = e.now
	}

	if !c.processAck(s) {
		return false
	}
	if c.removed {
		return false
	}

	if zeroWndData {
		c.Stats.DroppedIn.Add(1)
		c.ackNow = true
		e.markDirty(c)
		return false
	}
	switch c.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
		if s.DataLen() > 0 || s.Flags&FlagFIN != 0 {
			retained = c.processData(s)
		}
	default:
		// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent FIN; re-ACK a
		// retransmitted FIN.
		if s.Flags&FlagFIN != 0 {
			c.ackNow = true
			if c.state == StateTimeWait {
				c.twAt = e.now + int64(e.cfg.TimeWait)
			}
			e.markDirty(c)
		}
	}
	return retained
}

// challengeAck sends a rate-limited challenge ACK (RFC 5961 §3.2, §4.2, §5.2).
func (c *Conn) challengeAck() {
	c.Stats.ChallengeAcks.Add(1)
	if c.eng.challengeAllowed() {
		c.sendAckNow()
	}
}

// inputSynSent handles a segment in SYN-SENT (RFC 9293 §3.10.7.3).
func (c *Conn) inputSynSent(s *Segment) {
	e := c.eng
	ackOK := false
	if s.Flags&FlagACK != 0 {
		if s.Ack.LEQ(c.iss) || s.Ack.GT(c.sndMax) {
			if s.Flags&FlagRST == 0 {
				e.sendReset(s)
			}
			return
		}
		ackOK = true
	}
	if s.Flags&FlagRST != 0 {
		if ackOK {
			c.remove(ErrConnRefused)
		}
		return
	}
	if s.Flags&FlagSYN == 0 {
		return
	}
	c.irs = s.Seq
	c.rcvNxt = s.Seq.Add(1)
	c.rcvAdv = c.rcvNxt
	c.negotiate(&s.Opts)
	c.peerMAC = s.SrcMAC
	if !ackOK {
		// Simultaneous open.
		c.setState(StateSynRcvd)
		c.sndWnd = int(s.Window)
		c.emit(FlagSYN|FlagACK, c.iss, 0)
		return
	}
	c.sndUna = s.Ack
	c.unaIdx = 0
	c.sndWnd = int(s.Window) << c.sndWscale
	c.maxSndWnd = c.sndWnd
	c.sndWl1, c.sndWl2 = s.Seq, s.Ack
	if c.retries == 0 {
		c.rttSample(e.now - c.synAt)
	}
	c.retries, c.backoff = 0, 0
	c.rtoAt = 0
	c.lastRecv = e.now
	c.setState(StateEstablished)
	c.sendAckNow()
	c.signalEstab()
	e.markDirty(c)
}

// negotiate applies the peer's SYN options.
func (c *Conn) negotiate(o *Options) {
	cfg := &c.eng.cfg
	peerMSS := 536
	if c.v6 {
		peerMSS = 1220
	}
	if o.HasMSS && o.MSS > 0 {
		peerMSS = int(o.MSS)
	}
	limit := c.eng.sndMax
	if c.v6 {
		limit -= IPv6HeaderLen - IPv4HeaderLen
	}
	c.sndMSS = max(min(peerMSS, limit), 64)
	c.wsOK = o.HasWScale && !cfg.DisableWScale
	if c.wsOK {
		c.sndWscale = o.WScale
	} else {
		c.sndWscale, c.rcvWscale = 0, 0
	}
	c.tsOK = o.HasTS && !cfg.DisableTimestamps
	if c.tsOK {
		c.tsRecent = o.TSVal
		c.tsRecentAt = c.eng.now
		c.sndMSS -= 12
	}
	c.sackOK = o.SACKPerm && !cfg.DisableSACK
	c.cc.Init(c.sndMSS)
}
