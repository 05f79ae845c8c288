package iwarp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/xtgt/xtgt/datapath/iwarp/mpa"
	"github.com/xtgt/xtgt/datapath/verbs"
)

// readFrame reads one MPA Request/Reply from s; leftover holds bytes that followed it.
func readFrame(s Stream, reply bool) (mpa.Frame, []byte, error) {
	var buf []byte
	for {
		v, err := s.Next()
		if err != nil {
			return nil, nil, fmt.Errorf("read mpa frame: %w", err)
		}
		buf = append(buf, v...)
		s.Release()
		if len(buf) < mpa.FrameHeaderLen {
			continue
		}
		if err := mpa.CheckKey(buf, reply); err != nil {
			return nil, nil, err
		}
		n, err := mpa.FrameLen(buf)
		if err != nil {
			return nil, nil, err
		}
		if len(buf) < n {
			continue
		}
		f, err := mpa.ParseFrame(buf[:n], reply)
		if err != nil {
			return nil, nil, err
		}
		return f, buf[n:], nil
	}
}

func deadline(ctx context.Context, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		return dl
	}
	return t
}

func (d *Device) connect(ctx context.Context, q *QP, addr string, p verbs.ConnParam) (verbs.ConnParam, error) {
	if q.State() != verbs.QPInit || q.stream != nil {
		return verbs.ConnParam{}, fmt.Errorf("connect: %w", verbs.ErrInvalidState)
	}
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return verbs.ConnParam{}, fmt.Errorf("connect %s: %w", addr, err)
	}
	_ = c.SetDeadline(deadline(ctx, d.cfg.HandshakeTimeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	s := NewConnStream(c, d.cfg.RecvBuffer)
	if p.IRD > 0 {
		q.ird = p.IRD
	}
	if p.ORD > 0 {
		q.ord = p.ORD
	}
	p2p := d.cfg.Rev == mpa.Rev2 && !d.cfg.DisableP2P
	req := mpa.FrameFields{Markers: d.cfg.Markers, CRC: d.cfg.CRC, Rev: uint8(d.cfg.Rev), PrivateData: p.PrivateData,
		Enh: mpa.Enhanced{IRD: q.ird, ORD: q.ord, P2P: p2p, RTR: mpa.RTRZeroWrite | mpa.RTRZeroRead}}
	b, err := mpa.AppendFrame(nil, req)
	if err == nil {
		err = s.Writev([][]byte{b})
	}
	if err != nil {
		c.Close()
		return verbs.ConnParam{}, fmt.Errorf("send mpa request: %w", err)
	}
	rep, left, err := readFrame(s, true)
	if err != nil {
		c.Close()
		return verbs.ConnParam{}, fmt.Errorf("connect %s: %w", addr, err)
	}
	out := verbs.ConnParam{PrivateData: append([]byte(nil), rep.PrivateData()...)}
	if rep.Reject() {
		c.Close()
		return out, &verbs.RejectError{PrivateData: out.PrivateData}
	}
	if e, ok := rep.Enh(); ok {
		out.IRD, out.ORD = e.IRD, e.ORD
		q.ord = max(1, min(q.ord, e.IRD))
		if p2p && e.P2P {
			switch {
			case e.RTR&mpa.RTRZeroWrite != 0:
				q.sendRTR = mpa.RTRZeroWrite
			case e.RTR&mpa.RTRZeroRead != 0:
				q.sendRTR, q.rtrRead = mpa.RTRZeroRead, true
			case e.RTR&mpa.RTRZeroSend != 0:
				q.sendRTR = mpa.RTRZeroSend
			}
		}
	}
	_ = c.SetDeadline(time.Time{})
	q.start(s, rep.Markers(), d.cfg.Markers, rep.CRC() || d.cfg.CRC, left)
	return out, nil
}

// Listener is a connection-manager listener.
type Listener struct {
	dev  *Device
	ln   net.Listener
	reqs chan *ConnRequest
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

var _ verbs.Listener = (*Listener)(nil)

// Listen implements verbs.Device.
func (d *Device) Listen(addr string) (verbs.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	l := &Listener{dev: d, ln: ln, reqs: make(chan *ConnRequest, 16), done: make(chan struct{})}
	l.wg.Add(1)
	go l.run()
	return l, nil
}

func (l *Listener) run() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			r, err := l.handshake(c)
			if err != nil {
				l.dev.cfg.Logger.Debug("mpa request refused", "remote", c.RemoteAddr(), "err", err)
				c.Close()
				return
			}
			select {
			case l.reqs <- r:
			case <-l.done:
				c.Close()
			}
		}()
	}
}

func (l *Listener) handshake(c net.Conn) (*ConnRequest, error) {
	_ = c.SetDeadline(time.Now().Add(l.dev.cfg.HandshakeTimeout))
	s := NewConnStream(c, l.dev.cfg.RecvBuffer)
	f, left, err := readFrame(s, false)
	if err != nil {
		if errors.Is(err, mpa.ErrBadKey) || errors.Is(err, mpa.ErrBadRevision) || errors.Is(err, mpa.ErrPrivateData) {
			// RFC 5044 §7.1.1: answer an unusable Request with a Reply that rejects it.
			b, _ := mpa.AppendFrame(nil, mpa.FrameFields{Reply: true, Reject: true, Rev: mpa.Rev1})
			_ = s.Writev([][]byte{b})
		}
		return nil, err
	}
	r := &ConnRequest{l: l, s: s, conn: c, left: append([]byte(nil), left...),
		markers: f.Markers(), crc: f.CRC(), rev: f.Rev(), pd: append([]byte(nil), f.PrivateData()...)}
	r.enh, _ = f.Enh()
	return r, nil
}

func (l *Listener) Accept(ctx context.Context) (verbs.ConnRequest, error) {
	select {
	case r := <-l.reqs:
		return r, nil
	case <-l.done:
		return nil, verbs.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	err := l.ln.Close()
	l.wg.Wait()
	for {
		select {
		case r := <-l.reqs:
			r.conn.Close()
		default:
			return err
		}
	}
}

// ConnRequest is an inbound connection whose MPA Request has been read.
type ConnRequest struct {
	l       *Listener
	s       *ConnStream
	conn    net.Conn
	left    []byte
	markers bool
	crc     bool
	rev     uint8
	enh     mpa.Enhanced
	pd      []byte
	used    bool
}

func (r *ConnRequest) Param() verbs.ConnParam {
	return verbs.ConnParam{PrivateData: r.pd, IRD: r.enh.IRD, ORD: r.enh.ORD}
}

func (r *ConnRequest) RemoteAddr() net.Addr { return r.conn.RemoteAddr() }

func (r *ConnRequest) Accept(qp verbs.QP, p verbs.ConnParam) error {
	q, ok := qp.(*QP)
	if !ok || q.pd.dev != r.l.dev || r.used {
		return fmt.Errorf("accept: %w", verbs.ErrInvalidState)
	}
	if q.State() != verbs.QPInit || q.stream != nil {
		return fmt.Errorf("accept: %w", verbs.ErrInvalidState)
	}
	r.used = true
	cfg := &r.l.dev.cfg
	if p.IRD > 0 {
		q.ird = p.IRD
	}
	if p.ORD > 0 {
		q.ord = p.ORD
	}
	rev := uint8(mpa.Rev1)
	rxMarkers := cfg.Markers || (cfg.MatchPeerMarkers && r.markers)
	rep := mpa.FrameFields{Reply: true, Markers: rxMarkers, CRC: cfg.CRC || r.crc, PrivateData: p.PrivateData}
	if r.rev == mpa.Rev2 && cfg.Rev == mpa.Rev2 {
		rev = mpa.Rev2
		q.ord = max(1, min(q.ord, r.enh.IRD))
		rep.Enh = mpa.Enhanced{IRD: q.ird, ORD: q.ord}
		if r.enh.P2P && !cfg.DisableP2P {
			rep.Enh.P2P = true
			switch {
			case r.enh.RTR&mpa.RTRZeroWrite != 0:
				rep.Enh.RTR = mpa.RTRZeroWrite
			case r.enh.RTR&mpa.RTRZeroRead != 0:
				rep.Enh.RTR = mpa.RTRZeroRead
			case r.enh.RTR&mpa.RTRZeroSend != 0:
				rep.Enh.RTR = mpa.RTRZeroSend
			default:
				rep.Enh.P2P = false
			}
			q.waitRTR = rep.Enh.RTR
		}
	}
	rep.Rev = rev
	b, err := mpa.AppendFrame(nil, rep)
	if err == nil {
		err = r.s.Writev([][]byte{b})
	}
	if err != nil {
		r.conn.Close()
		return fmt.Errorf("send mpa reply: %w", err)
	}
	_ = r.conn.SetDeadline(time.Time{})
	q.start(r.s, r.markers, rxMarkers, rep.CRC, r.left)
	return nil
}

func (r *ConnRequest) Reject(privateData []byte) error {
	if r.used {
		return fmt.Errorf("reject: %w", verbs.ErrInvalidState)
	}
	r.used = true
	defer r.conn.Close()
	f := mpa.FrameFields{Reply: true, Reject: true, Rev: mpa.Rev1, PrivateData: privateData}
	if r.rev == mpa.Rev2 && r.l.dev.cfg.Rev == mpa.Rev2 {
		f.Rev = mpa.Rev2
	}
	b, err := mpa.AppendFrame(nil, f)
	if err != nil {
		return fmt.Errorf("reject: %w", err)
	}
	if err := r.s.Writev([][]byte{b}); err != nil {
		return fmt.Errorf("reject: %w", err)
	}
	return nil
}
