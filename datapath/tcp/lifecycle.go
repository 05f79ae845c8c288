package tcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// newConn allocates a connection and registers it (setup-time allocation only).
func (e *Engine) newConn(key connKey, peer MAC) *Conn {
	cfg := &e.cfg
	c := &Conn{
		eng:      e,
		key:      key,
		v6:       key.laddr.Is6(),
		peerMAC:  peer,
		sq:       newSendQueue(stageBytes, pendSlots),
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
		estab:    make(chan struct{}),
		rcvBuf:   cfg.RecvBuffer,
		cc:       NewCongestionControl(cfg.CongestionControl),
		rto:      int64(cfg.InitialRTO),
		tsOffset: e.rng.Uint32(),
		ooo:      make([]oooSeg, 0, 16),
	}
	c.rcvMSS = e.mss
	if c.v6 {
		c.rcvMSS -= IPv6HeaderLen - IPv4HeaderLen
	}
	c.sndMSS = 536
	// Views in flight: enough for the window in small segments, bounded.
	c.viewsCap = min(max(2*cfg.RecvBuffer/c.rcvMSS+64, 256), 1<<15)
	c.rq = newSPSC[[]byte](c.viewsCap)
	c.rel = newSPSC[[]byte](c.viewsCap)
	c.viewsCap = len(c.rq.buf)
	for c.rcvWscale = 0; c.rcvWscale < maxWScale && cfg.RecvBuffer>>c.rcvWscale > 65535; c.rcvWscale++ {
	}
	if cfg.DisableWScale {
		c.rcvWscale = 0
	}
	c.cc.Init(c.sndMSS)
	c.timer.conn = c
	e.conns[key] = c
	e.Stats.ConnsOpened.Add(1)
	e.Stats.ConnsActive.Add(1)
	return c
}

// remove closes the connection inside the engine, recording err for the application.
func (c *Conn) remove(err error) {
	if c.removed {
		return
	}
	e := c.eng
	c.removed = true
	if err != nil {
		c.errCode.CompareAndSwap(nil, &err)
	}
	if c.state == StateSynRcvd && c.listener != nil {
		c.listener.halfOpen--
	}
	c.setState(StateClosed)
	delete(e.conns, c.key)
	e.wheel.disarm(&c.timer)
	c.rtoAt, c.persistAt, c.keepAt, c.delackAt, c.twAt, c.tlpAt = 0, 0, 0, 0, 0, 0
	c.releaseOOO()
	c.freeSend()
	c.drainReleases()
	if c.appClosed.Load() || c.listener != nil && !c.accepted.Load() {
		c.drainQueue()
	}
	e.Stats.ConnsClosed.Add(1)
	e.Stats.ConnsActive.Add(-1)
	c.signalEstab()
	notify(c.readable)
	notify(c.writable)
}

// abort resets the connection (sending RST if rst) and removes it.
func (c *Conn) abort(err error, rst bool) {
	if c.removed {
		return
	}
	if rst && c.state != StateSynSent && c.state != StateClosed && c.state != StateTimeWait {
		c.emit(FlagRST|FlagACK, c.sndNxt, 0)
	}
	c.remove(err)
}

func (c *Conn) signalEstab() { c.estabOnce.Do(func() { close(c.estab) }) }

// drainReleases returns views the application released to the link; it returns the bytes freed.
func (c *Conn) drainReleases() int {
	n := 0
	for {
		v, ok := c.rel.pop()
		if !ok {
			return n
		}
		c.viewsOut--
		c.rcvHeld -= len(v)
		n += len(v)
		c.eng.release(v)
	}
}

// drainQueue releases views still queued for an application that has gone away.
func (c *Conn) drainQueue() {
	for {
		v, ok := c.rq.pop()
		if !ok {
			return
		}
		c.viewsOut--
		c.rcvHeld -= len(v)
		c.eng.release(v)
	}
}

// onKick handles application activity: released views, new send data, shutdown requests.
func (c *Conn) onKick() {
	e := c.eng
	before := c.rcvAdv.Sub(c.rcvNxt)
	freed := c.drainReleases()
	if c.removed {
		if c.appClosed.Load() {
			c.drainQueue()
		}
		return
	}
	if c.appClosed.Load() {
		if (c.rq.len() > 0 || c.unreadAtClose.Load()) && c.state != StateTimeWait {
			c.drainQueue()
			c.abort(ErrAborted, true) // unread data at close: RST (RFC 9293 §3.10.4)
			return
		}
		c.drainQueue()
		if c.state < StateEstablished {
			c.abort(ErrAborted, true)
			return
		}
	}
	if c.appShutWr.Load() && !c.finQueued {
		switch c.state {
		case StateEstablished:
			c.finQueued = true
			c.finIdx = c.sq.head.Load()
			c.setState(StateFinWait1)
		case StateCloseWait:
			c.finQueued = true
			c.finIdx = c.sq.head.Load()
			c.setState(StateLastAck)
		}
	}
	if c.appClosed.Load() && c.state == StateFinWait2 && c.twAt == 0 {
		c.twAt = e.now + int64(e.cfg.TimeWait)
	}
	// Window update when the application freed a meaningful amount (RFC 9293 §3.8.6.2.2).
	if freed > 0 && c.synced() && !c.finRcvd {
		avail := min(max(c.rcvBuf-c.rcvHeld, 0), 65535<<c.rcvWscale)
		if avail-before >= min(2*c.rcvMSS, c.rcvBuf/2) || (before < c.rcvMSS && avail >= c.rcvMSS) {
			c.ackNow = true
		}
	}
	e.markDirty(c)
	c.rearm()
}

// rearm sets the connection's wheel entry to its earliest deadline.
func (c *Conn) rearm() {
	if c.removed {
		return
	}
	e := c.eng
	if c.keepAt == 0 && e.cfg.KeepAliveIdle > 0 && c.synced() && c.state != StateTimeWait {
		c.keepAt = e.now + int64(e.cfg.KeepAliveIdle)
	}
	m := int64(0)
	for _, t := range [...]int64{c.rtoAt, c.delackAt, c.persistAt, c.keepAt, c.twAt, c.tlpAt} {
		if t != 0 && (m == 0 || t < m) {
			m = t
		}
	}
	if m == 0 {
		e.wheel.disarm(&c.timer)
		return
	}
	if c.timer.when != m {
		e.wheel.arm(&c.timer, m)
	}
}

// onTimer runs expired deadlines.
func (c *Conn) onTimer() {
	e := c.eng
	now := e.now
	if c.twAt != 0 && now >= c.twAt {
		c.twAt = 0
		if c.state == StateTimeWait {
			c.remove(nil)
		} else if c.state == StateFinWait2 {
			c.abort(ErrTimeout, true)
		}
		return
	}
	if c.rtoAt != 0 && now >= c.rtoAt {
		c.rtoAt = 0
		c.onRTO()
		if c.removed {
			return
		}
	}
	if c.tlpAt != 0 && now >= c.tlpAt {
		c.tlpAt = 0
		c.onTLP()
	}
	if c.persistAt != 0 && now >= c.persistAt {
		c.persistAt = 0
		c.onPersist()
		if c.removed {
			return
		}
	}
	if c.delackAt != 0 && now >= c.delackAt {
		c.delackAt = 0
		c.ackNow = true
		e.markDirty(c)
	}
	if c.keepAt != 0 && now >= c.keepAt {
		c.keepAt = 0
		c.onKeepalive()
		if c.removed {
			return
		}
	}
	c.rearm()
}

// onRTO handles a retransmission timeout (RFC 6298 §5, RFC 5681 §3.1).
func (c *Conn) onRTO() {
	e := c.eng
	cfg := &e.cfg
	switch c.state {
	case StateSynSent, StateSynRcvd:
		c.retries++
		if c.retries > cfg.SynRetries {
			c.remove(ErrTimeout)
			return
		}
		c.rto = min(c.rto*2, int64(cfg.MaxRTO))
		c.Stats.Timeouts.Add(1)
		c.Stats.Retransmits.Add(1)
		flags := FlagSYN
		if c.state == StateSynRcvd {
			flags |= FlagACK
		}
		c.emit(flags, c.iss, 0)
		c.rtoAt = e.now + c.rto
		return
	case StateTimeWait, StateClosed, StateFinWait2, StateCloseWait:
		if c.flight() == 0 {
			return
		}
	}
	if c.flight() == 0 {
		return
	}
	if c.sndWnd == 0 {
		// The peer closed its window with data in flight (it dropped what did not fit):
		// probe the window instead of retransmitting into it; a peer that answers is alive.
		if c.lastRecv < c.probeAt {
			c.retries++
		} else {
			c.retries = 0
		}
		if c.retries > cfg.MaxRetries {
			c.abort(ErrTimeout, true)
			return
		}
		c.sndNxt = c.sndUna
		c.probeAt = e.now
		c.Stats.ZeroWindowProbes.Add(1)
		c.emit(FlagACK, c.sndUna.Add(-1), 0)
		c.rto = min(c.rto*2, int64(cfg.MaxRTO))
		c.rtoAt = e.now + c.rto
		return
	}
	c.retries++
	if c.retries > cfg.MaxRetries {
		c.abort(ErrTimeout, true)
		return
	}
	c.Stats.Timeouts.Add(1)
	c.tlpAt, c.tlpOut = 0, false
	if cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		cfg.Logger.Debug("tcp: rto", "conn", c.key.rport, "una", c.sndUna, "nxt", c.sndNxt.Sub(c.sndUna),
			"max", c.sndMax.Sub(c.sndUna), "cwnd", c.cc.Cwnd(), "wnd", c.sndWnd, "sacked", c.sackedBytes(), "nsacked", c.nSacked,
			"rec", c.inRecovery, "highRxt", c.highRxt.Sub(c.sndUna), "dup", c.dupAcks, "pipe", c.pipe(), "rto", c.rto/1e6, "retries", c.retries)
	}
	c.cc.OnRTO(c.flight(), e.now)
	c.inRecovery = false
	c.recoverSeq = c.sndMax
	// With SACK the scoreboard survives the timeout (RFC 6675 §5.1): the go-back-N resend
	// below skips what the peer already holds.
	if !c.sackOK {
		c.nSacked = 0
	}
	c.dupAcks = 0
	c.rtxHead = false
	c.highRxt = c.sndUna
	c.sndNxt = c.sndUna
	c.rttTiming = false
	c.rto = min(c.rto*2, int64(cfg.MaxRTO))
	c.rtoAt = e.now + c.rto
	c.publishCC()
	e.markDirty(c)
}

// armTLP schedules a tail loss probe 2*SRTT after the last transmission (RFC 8985 §7.2), when
// data is outstanding outside recovery and the probe would come before the RTO.
func (c *Conn) armTLP() {
	e := c.eng
	c.tlpAt = 0
	if c.srtt == 0 || c.inRecovery || c.tlpOut || c.flight() == 0 || !c.canSendData() {
		return
	}
	pto := max(2*c.srtt, int64(2*time.Millisecond))
	if c.flight() <= c.sndMSS {
		pto += int64(40 * time.Millisecond) // the peer may delay its ACK of a lone segment
	}
	at := e.now + pto
	if c.rtoAt != 0 && at >= c.rtoAt {
		return
	}
	c.tlpAt = at
}

// onTLP sends a tail loss probe: the last segment sent (RFC 8985 §7.3), so that its ACK carries
// SACK information about a lost tail.
func (c *Conn) onTLP() {
	if c.inRecovery || c.tlpOut || c.flight() == 0 || !c.canSendData() {
		return
	}
	end := c.sndMax
	if c.finQueued && end == c.finSeq().Add(1) {
		end = c.finSeq()
		if end == c.sndUna {
			c.emit(FlagFIN|FlagACK, end, 0)
			c.tlpOut = true
			c.Stats.TailLossProbes.Add(1)
			return
		}
	}
	n := min(c.sndMSS, end.Sub(c.sndUna))
	if n <= 0 {
		return
	}
	if !c.emit(FlagACK, end.Add(-n), n) {
		return
	}
	c.countRetrans(n)
	c.tlpOut = true
	c.Stats.TailLossProbes.Add(1)
	c.rtoAt = c.eng.now + c.rto
}

// onPersist sends a zero-window probe (RFC 9293 §3.8.6.1).
func (c *Conn) onPersist() {
	e := c.eng
	if c.sndWnd > 0 || c.flight() > 0 || !c.canSendData() {
		return
	}
	if c.lastRecv < c.probeAt {
		c.probes++ // the previous probe went unanswered
	} else {
		c.probes = 0
	}
	if c.probes > e.cfg.MaxRetries {
		c.abort(ErrTimeout, true)
		return
	}
	c.Stats.ZeroWindowProbes.Add(1)
	c.probeAt = e.now
	c.emit(FlagACK, c.sndUna.Add(-1), 0)
	c.backoff = min(c.backoff+1, 16)
	d := min(c.rto<<c.backoff, int64(e.cfg.MaxRTO))
	c.persistAt = e.now + d
}

// onKeepalive sends a keepalive probe or gives up (RFC 9293 §3.8.4).
func (c *Conn) onKeepalive() {
	e := c.eng
	cfg := &e.cfg
	if cfg.KeepAliveIdle <= 0 || !(c.state == StateEstablished || c.state == StateCloseWait) {
		return
	}
	idle := e.now - c.lastRecv
	if c.kaProbes == 0 && idle < int64(cfg.KeepAliveIdle) {
		c.keepAt = c.lastRecv + int64(cfg.KeepAliveIdle)
		return
	}
	if c.flight() > 0 {
		c.keepAt = e.now + int64(cfg.KeepAliveIdle) // the RTO takes care of a dead peer
		return
	}
	if c.kaProbes >= cfg.KeepAliveCount {
		c.abort(ErrTimeout, true)
		return
	}
	c.kaProbes++
	c.Stats.KeepAliveProbes.Add(1)
	c.emit(FlagACK, c.sndUna.Add(-1), 0)
	c.keepAt = e.now + int64(cfg.KeepAliveInterval)
}

// Dial opens a connection to raddr (active open, RFC 9293 §3.10.1).
func (e *Engine) Dial(ctx context.Context, raddr netip.AddrPort) (*Conn, error) {
	var laddr netip.Addr
	for _, a := range e.addrs {
		if a.Is4() == raddr.Addr().Is4() {
			laddr = a
			break
		}
	}
	if !laddr.IsValid() {
		return nil, fmt.Errorf("tcp: dial %v: no local address of that family", raddr)
	}
	if e.cfg.Resolve == nil {
		return nil, errors.New("tcp: dial: no Resolve function configured")
	}
	mac, err := e.cfg.Resolve(raddr.Addr())
	if err != nil {
		return nil, fmt.Errorf("tcp: dial %v: resolve: %w", raddr, err)
	}
	var c *Conn
	var derr error
	err = e.do(ctx, func() {
		port, ok := e.pickPort(laddr, raddr)
		if !ok {
			derr = errors.New("tcp: no free local port")
			return
		}
		key := connKey{raddr: raddr.Addr(), laddr: laddr, rport: raddr.Port(), lport: port}
		c = e.newConn(key, mac)
		c.iss = e.isn()
		c.sndUna = c.iss
		c.sndNxt = c.iss.Add(1)
		c.sndMax = c.sndNxt
		c.setState(StateSynSent)
		c.synAt = e.now
		c.emit(FlagSYN, c.iss, 0)
		c.rtoAt = e.now + c.rto
		c.rearm()
	})
	if err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	select {
	case <-c.estab:
	case <-ctx.Done():
		c.appClosed.Store(true)
		e.kick(c)
		return nil, ctx.Err()
	}
	if p := c.errCode.Load(); p != nil {
		return nil, fmt.Errorf("tcp: dial %v: %w", raddr, *p)
	}
	return c, nil
}

func (e *Engine) pickPort(laddr netip.Addr, raddr netip.AddrPort) (uint16, bool) {
	const lo, hi = 32768, 61000
	for i := 0; i < 64; i++ {
		p := uint16(lo + e.rng.IntN(hi-lo))
		k := connKey{raddr: raddr.Addr(), laddr: laddr, rport: raddr.Port(), lport: p}
		if _, busy := e.conns[k]; !busy && e.listeners[p] == nil {
			return p, true
		}
	}
	return 0, false
}
