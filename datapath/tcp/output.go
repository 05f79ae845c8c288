package tcp

import (
	"encoding/binary"
	"net/netip"
)

// writeHeaders writes Ethernet, IP and the fixed TCP header into buf for a segment with optLen
// option bytes and payLen payload bytes; it returns the TCP header offset and total length.
func writeHeaders(buf []byte, v6 bool, srcMAC, dstMAC MAC, src, dst netip.Addr, f *TCPFields,
	optLen, payLen int, ipID uint16) (tcpOff, total int) {
	hdrLen := TCPHeaderLen + optLen
	if v6 {
		encodeEth(buf, dstMAC, srcMAC, EtherTypeIPv6)
		s, d := src.As16(), dst.As16()
		encodeIPv6(buf[EthHeaderLen:], s[:], d[:], hdrLen+payLen)
		tcpOff = EthHeaderLen + IPv6HeaderLen
	} else {
		encodeEth(buf, dstMAC, srcMAC, EtherTypeIPv4)
		s, d := src.As4(), dst.As4()
		encodeIPv4(buf[EthHeaderLen:], s[:], d[:], hdrLen+payLen, ipID)
		tcpOff = EthHeaderLen + IPv4HeaderLen
	}
	encodeTCP(buf[tcpOff:], f, hdrLen)
	return tcpOff, tcpOff + hdrLen + payLen
}

// finishChecksum computes the TCP checksum in place.
func finishChecksum(buf []byte, tcpOff, total int, v6 bool, src, dst netip.Addr) {
	seg := buf[tcpOff:total]
	if v6 {
		s, d := src.As16(), dst.As16()
		finishTCPChecksum(seg, s[:], d[:])
	} else {
		s, d := src.As4(), dst.As4()
		finishTCPChecksum(seg, s[:], d[:])
	}
}

// sendReset answers a segment for which no connection exists (RFC 9293 §3.10.7.1).
func (e *Engine) sendReset(s *Segment) {
	if s.Flags&FlagRST != 0 {
		return
	}
	f := TCPFields{SrcPort: s.DstPort, DstPort: s.SrcPort}
	if s.Flags&FlagACK != 0 {
		f.Seq = s.Ack
		f.Flags = FlagRST
	} else {
		f.Ack = s.Seq.Add(s.Len())
		f.Flags = FlagRST | FlagACK
	}
	buf := e.txBuf()
	if buf == nil {
		return
	}
	v6 := s.Src.Is6()
	off, total := writeHeaders(buf, v6, e.mac, s.SrcMAC, s.Dst, s.Src, &f, 0, 0, uint16(e.rng.Uint32()))
	finishChecksum(buf, off, total, v6, s.Dst, s.Src)
	e.Stats.RSTsOut.Add(1)
	e.send(TxFrame{Buf: buf[:total]})
}

// windowField computes the window to advertise and updates rcvAdv (never shrinking the
// right edge, RFC 9293 §3.8.6.2.2 receiver SWS avoidance).
func (c *Conn) windowField(syn bool) uint16 {
	avail := max(c.rcvBuf-c.rcvHeld, 0)
	right := c.rcvNxt.Add(avail)
	if right.LT(c.rcvAdv) {
		right = c.rcvAdv
	} else if d := right.Sub(c.rcvAdv); d < min(c.rcvBuf/2, c.rcvMSS) && c.rcvAdv.GT(c.rcvNxt) {
		right = c.rcvAdv
	}
	w := right.Sub(c.rcvNxt)
	if syn {
		w = min(w, 65535)
		c.rcvAdv = c.rcvNxt.Add(w)
		return uint16(w)
	}
	sh := int(c.rcvWscale)
	f := (w + (1 << sh) - 1) >> sh
	if f > 65535 {
		f = 65535
	}
	c.rcvAdv = c.rcvNxt.Add(f << sh)
	return uint16(f)
}

// sackBlocks fills c's scratch with up to n SACK blocks describing held out-of-order data,
// the block holding the most recent arrival first (RFC 2018 §4).
func (c *Conn) sackBlocks(dst []SACKBlock) int {
	k := 0
	var cur SACKBlock
	have := false
	first := -1
	for _, o := range c.ooo {
		end := o.seq.Add(len(o.data))
		if have && o.seq.LEQ(cur.End) {
			cur.End = seqMax(cur.End, end)
			continue
		}
		if have {
			if k == len(dst) {
				break
			}
			dst[k] = cur
			k++
		}
		cur = SACKBlock{o.seq, end}
		have = true
	}
	if have && k < len(dst) {
		dst[k] = cur
		k++
	}
	for i := 0; i < k; i++ {
		if c.lastOOO.GEQ(dst[i].Start) && c.lastOOO.LT(dst[i].End) {
			first = i
			break
		}
	}
	if first > 0 {
		dst[0], dst[first] = dst[first], dst[0]
	}
	return k
}

// emit builds and queues one segment: flags, sequence number, and n payload bytes from the
// send buffer at seq. It returns false when no transmit buffer was available.
func (c *Conn) emit(flags uint8, seq Seq, n int) bool {
	e := c.eng
	buf := e.txBuf()
	if buf == nil {
		e.markDirty(c)
		return false
	}
	ipHdr := IPv4HeaderLen
	if c.v6 {
		ipHdr = IPv6HeaderLen
	}
	optAt := EthHeaderLen + ipHdr + TCPHeaderLen
	opt := buf[optAt : optAt+40]
	optLen := 0
	tsVal := e.tsNow() + c.tsOffset
	if flags&FlagSYN != 0 {
		ws := -1
		if c.wsOK || c.state == StateSynSent {
			ws = int(c.rcvWscale)
		}
		sack := !e.cfg.DisableSACK && (c.sackOK || c.state == StateSynSent)
		ts := !e.cfg.DisableTimestamps && (c.tsOK || c.state == StateSynSent)
		optLen = putSynOptions(opt, uint16(c.rcvMSS), ws, sack, ts, tsVal, c.tsRecent)
	} else {
		if c.tsOK {
			optLen = putTimestamp(opt, tsVal, c.tsRecent)
		}
		if c.sackOK && len(c.ooo) > 0 && flags&FlagACK != 0 {
			max := 4
			if c.tsOK {
				max = 3
			}
			k := c.sackBlocks(c.sackScratch[:max])
			if k > 0 {
				optLen += putSACK(opt[optLen:], c.sackScratch[:k])
			}
		}
	}
	f := TCPFields{SrcPort: c.key.lport, DstPort: c.key.rport, Seq: seq, Flags: flags}
	if flags&FlagACK != 0 {
		f.Ack = c.rcvNxt
	}
	if flags&FlagRST == 0 {
		f.Window = c.windowField(flags&FlagSYN != 0)
	}
	off, total := writeHeaders(buf, c.v6, e.mac, c.peerMAC, c.key.laddr, c.key.raddr, &f, optLen, n, uint16(seq))
	hdrEnd := total - n
	// A segment longer than one transmit buffer continues in more (multi-buffer links).
	n0 := min(n, len(buf)-hdrEnd)
	frags := e.fragBufs[:0]
	for rest := n - n0; rest > 0; {
		b := e.txBuf()
		if b == nil {
			e.txFree = append(e.txFree, buf)
			e.txFree = append(e.txFree, frags...)
			clear(frags)
			e.markDirty(c)
			return false
		}
		b = b[:min(rest, len(b))]
		frags = append(frags, b)
		rest -= len(b)
	}
	sc := sumCopier{on: !e.txCsum}
	keep := false
	if n > 0 {
		idx := c.idxOfSeq(seq)
		// New data gets its one copy, from the application's buffer into the frames, which
		// are kept for retransmission; a resend is copied out of the kept frames.
		keep = idx >= c.sq.taken.Load()
		c.fillPayload(buf[hdrEnd:hdrEnd+n0:hdrEnd+n0], buf, idx, keep, &sc)
		idx += uint64(n0)
		for _, b := range frags {
			c.fillPayload(b, b, idx, keep, &sc)
			idx += uint64(len(b))
		}
		if keep && c.sbWaiting.Load() {
			notify(c.writable)
		}
	}
	// The TCP header+options length is a multiple of 4, so the payload starts at an even offset.
	tcpLen := total - off
	hdr := buf[off:hdrEnd]
	var s uint64
	if c.v6 {
		sa, da := c.key.laddr.As16(), c.key.raddr.As16()
		s = pseudoSum(sa[:], da[:], tcpLen)
	} else {
		sa, da := c.key.laddr.As4(), c.key.raddr.As4()
		s = pseudoSum(sa[:], da[:], tcpLen)
	}
	tf := TxFrame{Buf: buf[:hdrEnd+n0], Keep: keep, More: len(frags) > 0}
	if e.txCsum {
		// CHECKSUM_PARTIAL style: the link sums from the TCP header on.
		binary.BigEndian.PutUint16(hdr[tcpChecksumOffset:], checksumFold(s))
		tf.CsumStart, tf.CsumOffset = uint16(off), tcpChecksumOffset
	} else {
		s = checksumAdd(s, hdr)
		s = checksumCombine(s, sc.sum)
		binary.BigEndian.PutUint16(hdr[tcpChecksumOffset:], ^checksumFold(s))
	}
	e.send(tf)
	for k, b := range frags {
		e.send(TxFrame{Buf: b, Keep: keep, More: k < len(frags)-1})
	}
	clear(frags)
	c.Stats.SegsOut.Add(1)
	if flags&FlagACK != 0 {
		c.lastAckSent = c.rcvNxt
		c.ackNow = false
		c.segsUnacked = 0
		c.delackAt = 0
	}
	if flags&FlagRST != 0 {
		e.Stats.RSTsOut.Add(1)
	}
	return true
}

// fillPayload copies one frame's share of a segment's payload into dst (inside the transmit
// buffer frame): new data from the send queue, kept for retransmission, or a resend from the
// kept frames.
func (c *Conn) fillPayload(dst, frame []byte, idx uint64, fresh bool, sc *sumCopier) {
	if fresh {
		c.sq.takeNew(dst, sc)
		c.retainSeg(idx, dst, frame)
	} else {
		c.sq.copySent(dst, idx, sc)
	}
}

// dataLimit returns how many new bytes output may send now from snd.nxt.
func (c *Conn) dataLimit() int {
	wndEdge := c.sndUna.Add(c.sndWnd)
	byWnd := wndEdge.Sub(c.sndNxt)
	var byCwnd int
	switch {
	case c.inRecovery && c.sackOK:
		byCwnd = c.cc.Cwnd() - c.pipe()
	case c.sackOK && c.nSacked > 0 && c.sndNxt == c.sndMax:
		// SACKed segments have left the network (limited transmit, RFC 3042, generalized).
		byCwnd = c.cc.Cwnd() - (c.flight() - c.sackedBytes())
	default:
		lt := 0
		if !c.inRecovery && c.sndNxt == c.sndMax {
			lt = min(c.dupAcks, 2) * c.sndMSS // limited transmit (RFC 3042)
		}
		byCwnd = c.sndUna.Add(c.cc.Cwnd() + lt).Sub(c.sndNxt)
	}
	return min(byWnd, byCwnd)
}

// canSendData reports whether the state allows (re)sending data.
func (c *Conn) canSendData() bool {
	switch c.state {
	case StateEstablished, StateCloseWait, StateFinWait1, StateClosing, StateLastAck:
		return true
	}
	return false
}

// output sends what the windows allow: recovery retransmissions, new data, FIN, and a pending
// ACK.
func (c *Conn) output() {
	if c.removed {
		return
	}
	e := c.eng
	if c.canSendData() {
		if c.rtxHead {
			n := c.segLenAt(c.sndUna)
			if n > 0 {
				if !c.emit(FlagACK, c.sndUna, n) {
					return
				}
				c.countRetrans(n)
				if end := c.sndUna.Add(n); c.highRxt.LT(end) {
					c.highRxt = end
				}
				c.rxtHigh = c.sndMax
			}
			c.rtxHead = false
		}
		if c.inRecovery && c.sackOK {
			for c.pipe() < c.cc.Cwnd() {
				s, n := c.nextHole()
				if n == 0 {
					break
				}
				if !c.emit(FlagACK, s, n) {
					return
				}
				c.countRetrans(n)
				c.highRxt = s.Add(n)
				c.rxtHigh = c.sndMax
			}
		}
		sentNew := false
		defer func() {
			if sentNew {
				c.armTLP()
			}
		}()
		head := c.sq.head.Load()
		if c.finQueued {
			head = c.finIdx
		}
		for {
			nxtIdx := c.idxOfSeq(c.sndNxt)
			if nxtIdx >= head {
				break
			}
			avail := int(head - nxtIdx)
			lim := c.dataLimit()
			if taken := c.sq.taken.Load(); nxtIdx < taken {
				avail = min(avail, int(taken-nxtIdx)) // a resend never runs into new data
			} else {
				if e.Stats.KeptFrames.Load() >= int64(e.maxRetained) {
					e.markDirty(c) // other connections hold the kept frames: retry soon
					break
				}
				lim = min(lim, e.cfg.SendBuffer-int(taken-c.unaIdx))
			}
			if c.sndNxt.LT(c.sndMax) && c.nSacked > 0 {
				if skip, room := c.sackSkip(c.sndNxt); skip != c.sndNxt {
					c.sndNxt = skip
					continue
				} else if room > 0 {
					avail = min(avail, room)
				}
			}
			n := min(avail, c.sndMSS, lim)
			if n <= 0 {
				if c.sndWnd <= c.sndNxt.Sub(c.sndUna) && c.flight() == 0 && c.persistAt == 0 {
					c.persistAt = e.now + c.rto
				}
				break
			}
			if n < c.sndMSS && n < avail && c.flight() > 0 {
				break // sender SWS avoidance: wait for a full segment's room
			}
			flags := FlagACK
			if n == avail {
				flags |= FlagPSH
			}
			if !c.emit(flags, c.sndNxt, n) {
				return
			}
			if c.sndNxt.LT(c.sndMax) {
				c.countRetrans(n)
			} else {
				c.Stats.BytesOut.Add(uint64(n))
				if !c.rttTiming && !c.tsOK {
					c.rttTiming, c.rttSeq, c.rttAt = true, c.sndNxt, e.now
				}
			}
			c.sndNxt = c.sndNxt.Add(n)
			c.sndMax = seqMax(c.sndMax, c.sndNxt)
			if c.rtoAt == 0 {
				c.rtoAt = e.now + c.rto
			}
			sentNew = true
		}
		if c.finQueued && c.sndNxt == c.finSeq() {
			if !c.emit(FlagFIN|FlagACK, c.sndNxt, 0) {
				return
			}
			c.sndNxt = c.sndNxt.Add(1)
			c.sndMax = seqMax(c.sndMax, c.sndNxt)
			if c.rtoAt == 0 {
				c.rtoAt = e.now + c.rto
			}
		}
	}
	if c.ackNow && c.state != StateSynSent && c.state != StateClosed {
		flags := FlagACK
		if c.state == StateSynRcvd {
			flags |= FlagSYN
			c.emit(flags, c.iss, 0)
			c.ackNow = false
		} else {
			c.emit(flags, c.sndNxt, 0)
		}
	}
	c.rearm()
}

// sackSkip returns s moved past any SACKed block containing it, and the room before the next
// SACKed block above it (0 if none).
func (c *Conn) sackSkip(s Seq) (Seq, int) {
	for i := 0; i < c.nSacked; i++ {
		b := c.sacked[i]
		if s.GEQ(b.Start) && s.LT(b.End) {
			return b.End, 0
		}
		if s.LT(b.Start) {
			return s, b.Start.Sub(s)
		}
	}
	return s, 0
}

func (c *Conn) countRetrans(n int) {
	c.Stats.Retransmits.Add(1)
	c.Stats.RetransBytes.Add(uint64(n))
	c.rttTiming = false
}

// segLenAt returns the payload length of a retransmission starting at s (bounded by MSS, the
// data sent so far and the FIN).
func (c *Conn) segLenAt(s Seq) int {
	end := c.sndMax
	if c.finQueued && end.GT(c.finSeq()) {
		end = c.finSeq()
	}
	return max(0, min(c.sndMSS, end.Sub(s)))
}

// sendAckNow emits a bare ACK immediately (used for challenge and duplicate ACKs).
func (c *Conn) sendAckNow() {
	c.emit(FlagACK, c.sndNxt, 0)
}
