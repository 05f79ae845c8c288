package tcp

import (
	"context"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// deadline is a settable deadline for blocking stream calls.
type deadline struct{ t atomic.Int64 } // unix ns; 0 = none

func (d *deadline) set(t time.Time) {
	if t.IsZero() {
		d.t.Store(0)
	} else {
		d.t.Store(t.UnixNano())
	}
}

// wait blocks on ch until signalled, the deadline passes, or abortCh closes.
func (d *deadline) wait(ch chan struct{}, abortCh <-chan struct{}) error {
	dl := d.t.Load()
	if dl == 0 {
		select {
		case <-ch:
		case <-abortCh:
		}
		return nil
	}
	left := time.Until(time.Unix(0, dl))
	if left <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-abortCh:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

func (c *Conn) connErr() error {
	if p := c.errCode.Load(); p != nil {
		return *p
	}
	return nil
}

// ReadView returns the next in-order payload view (a slice of a received frame; on AF_XDP a
// UMEM frame). The caller owns it until ReleaseView. It returns io.EOF after the peer's FIN.
// ReadView and Read must not be mixed on one connection.
func (c *Conn) ReadView() ([]byte, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	for {
		if c.closing.Load() {
			return nil, net.ErrClosed
		}
		if v, ok := c.rq.pop(); ok {
			return v, nil
		}
		if err := c.readBlocked(); err != nil {
			return nil, err
		}
	}
}

// readBlocked waits for data, returning io.EOF / the connection error when none will come, and
// net.ErrClosed once Close or Abort was called (they wait for readMu, which the caller holds).
func (c *Conn) readBlocked() error {
	c.rdWaiting.Store(true)
	defer c.rdWaiting.Store(false)
	if c.rq.len() > 0 {
		return nil
	}
	if c.finIn.Load() {
		if c.rq.len() > 0 {
			return nil
		}
		return io.EOF
	}
	if err := c.connErr(); err != nil {
		return err
	}
	if c.closing.Load() || c.appClosed.Load() {
		return net.ErrClosed
	}
	if err := c.rdl.wait(c.readable, c.eng.done); err != nil {
		return err
	}
	if c.eng.stopped.Load() && c.rq.len() == 0 && !c.finIn.Load() && c.connErr() == nil {
		return ErrEngineDown
	}
	return nil
}

// releaseLocal queues a view for release without kicking (the caller kicks).
func (c *Conn) releaseLocal(v []byte) {
	for i := 0; !c.rel.push(v); i++ {
		// Cannot happen while views in flight stay bounded by the ring size; be safe anyway.
		c.eng.kick(c)
		time.Sleep(10 * time.Microsecond)
		if i > 100000 {
			return
		}
	}
}

// ReleaseView returns a view obtained from ReadView (unchanged length) to the engine.
func (c *Conn) ReleaseView(v []byte) {
	for !c.rel.push(v) {
		c.eng.kick(c)
		time.Sleep(10 * time.Microsecond)
	}
	c.eng.kick(c)
}

// Read implements net.Conn (one copy out of the receive frames).
func (c *Conn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	n := 0
	released := false
	for n < len(p) {
		if c.closing.Load() {
			// Close is waiting for readMu: stop here (what is left unread makes it reset).
			if released {
				c.eng.kick(c)
			}
			if n > 0 {
				return n, nil
			}
			return 0, net.ErrClosed
		}
		if len(c.cur) == 0 {
			if c.curView != nil {
				c.releaseLocal(c.curView)
				c.curView = nil
				released = true
			}
			v, ok := c.rq.pop()
			if !ok {
				if n > 0 {
					break
				}
				if released {
					c.eng.kick(c)
					released = false
				}
				if err := c.readBlocked(); err != nil {
					return 0, err
				}
				continue
			}
			c.cur, c.curView = v, v
		}
		k := copy(p[n:], c.cur)
		c.cur = c.cur[k:]
		n += k
	}
	if len(c.cur) == 0 && c.curView != nil {
		c.releaseLocal(c.curView)
		c.curView = nil
		released = true
	}
	if released {
		c.eng.kick(c)
	}
	return n, nil
}

// Writev queues the buffers on the send stream (iovec-style) and returns once the engine no
// longer needs them: a buffer of at most Config.StageMax bytes is copied into the staging ring;
// a larger one is copied by the engine straight into transmit frames (the only copy of its
// payload), and Writev waits for that. A write deadline that expires while the engine still
// holds part of a buffer resets the connection, since the stream can no longer be completed.
func (c *Conn) Writev(bufs [][]byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	total := 0
	var borrowed uint64
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		lent, err := c.queue(b)
		if err != nil {
			return total, c.writeFailed(borrowed, err)
		}
		total += len(b)
		if lent {
			borrowed = c.sq.head.Load()
		}
	}
	if borrowed != 0 {
		if err := c.waitTaken(borrowed); err != nil {
			return total, c.writeFailed(borrowed, err)
		}
	}
	return total, nil
}

// Write implements net.Conn.
func (c *Conn) Write(p []byte) (int, error) {
	var one [1][]byte
	one[0] = p
	return c.Writev(one[:])
}

// writeOK reports why the stream cannot take more data, if it cannot.
func (c *Conn) writeOK() error {
	if err := c.connErr(); err != nil {
		return err
	}
	if c.appShutWr.Load() {
		return net.ErrClosed
	}
	if st := c.State(); st != StateEstablished && st != StateCloseWait {
		return ErrClosed
	}
	return nil
}

// queue appends b to the send stream, staged or borrowed, waiting for room.
func (c *Conn) queue(b []byte) (borrowed bool, err error) {
	stage := len(b) <= c.eng.cfg.StageMax && len(b) <= len(c.sq.stage.buf)
	for {
		if err := c.writeOK(); err != nil {
			return false, err
		}
		if c.sq.pend.free() >= 2 {
			if !stage {
				c.sq.pend.push(pendBuf{b: b})
				break
			}
			if v1, v2, ok := c.sq.stage.put(b); ok {
				c.sq.pend.push(pendBuf{b: v1, staged: true})
				if v2 != nil {
					c.sq.pend.push(pendBuf{b: v2, staged: true})
				}
				break
			}
		}
		if err := c.waitWritable(func() bool {
			return c.sq.pend.free() >= 2 && (!stage || c.sq.stage.space() >= len(b))
		}); err != nil {
			return false, err
		}
	}
	c.sq.head.Add(uint64(len(b)))
	c.eng.kick(c)
	return !stage, nil
}

// waitTaken waits until the engine has taken the stream up to idx out of the queue.
func (c *Conn) waitTaken(idx uint64) error {
	for c.sq.taken.Load() < idx {
		if err := c.connErr(); err != nil {
			return err
		}
		if c.State() == StateClosed {
			return ErrClosed
		}
		if err := c.waitWritable(func() bool { return c.sq.taken.Load() >= idx }); err != nil {
			return err
		}
	}
	return nil
}

// waitWritable blocks until ready reports true after an engine notification, the write
// deadline passes, or the connection or engine ends.
func (c *Conn) waitWritable(ready func() bool) error {
	c.sbWaiting.Store(true)
	defer c.sbWaiting.Store(false)
	if ready() {
		return nil
	}
	if err := c.wdl.wait(c.writable, c.eng.done); err != nil {
		return err
	}
	select {
	case <-c.eng.done:
		return ErrEngineDown
	default:
	}
	return c.connErr()
}

// writeFailed makes sure the engine no longer reads a failed write's borrowed buffers before
// the caller gets them back: if it may still, the connection is reset first.
func (c *Conn) writeFailed(borrowed uint64, err error) error {
	if borrowed == 0 || c.sq.taken.Load() >= borrowed || c.connErr() != nil || c.State() == StateClosed {
		return err
	}
	c.Abort()
	_ = c.eng.do(context.Background(), func() { c.abort(ErrAborted, true) })
	return err
}

// CloseWrite sends FIN after the queued data (half-close).
func (c *Conn) CloseWrite() error {
	c.appShutWr.Store(true)
	c.eng.kick(c)
	return nil
}

// Close closes the connection: FIN after queued data, or RST if received data is unread. It
// does not wait for the peer; a Read or ReadView blocked on the connection returns
// net.ErrClosed.
func (c *Conn) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	c.wakeReader()
	c.readMu.Lock()
	if c.curView != nil {
		if len(c.cur) > 0 {
			c.unreadAtClose.Store(true) // unread data: the engine resets
		}
		c.releaseLocal(c.curView)
		c.cur, c.curView = nil, nil
	}
	c.appShutWr.Store(true)
	c.appClosed.Store(true)
	c.readMu.Unlock()
	notify(c.readable)
	notify(c.writable)
	c.eng.kick(c)
	return nil
}

// Abort resets the connection immediately.
func (c *Conn) Abort() {
	c.closing.Store(true)
	c.wakeReader()
	c.readMu.Lock()
	if c.curView != nil {
		c.releaseLocal(c.curView)
		c.cur, c.curView = nil, nil
	}
	c.unreadAtClose.Store(true) // forces the RST path
	c.appShutWr.Store(true)
	c.appClosed.Store(true)
	c.readMu.Unlock()
	c.eng.kick(c)
}

// wakeReader makes a reader blocked in readBlocked (holding readMu) see closing and return.
// The channel holds one token, so a reader that checked closing just before it was set still
// finds the wakeup when it goes to wait.
func (c *Conn) wakeReader() { notify(c.readable) }

// Established returns a channel closed once the handshake completed or failed.
func (c *Conn) Established() <-chan struct{} { return c.estab }

// Err returns the connection's terminal error, if any.
func (c *Conn) Err() error { return c.connErr() }

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.LocalAddrPort()) }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.RemoteAddrPort()) }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	notify(c.readable)
	notify(c.writable)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rdl.set(t); notify(c.readable); return nil }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); notify(c.writable); return nil }

var _ net.Conn = (*Conn)(nil)
