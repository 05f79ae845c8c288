package tcp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// Listener accepts passive opens on one port of an engine. It implements net.Listener.
type Listener struct {
	e        *Engine
	port     uint16
	accept   chan *Conn
	halfOpen int // engine-owned
	done     chan struct{}
	closed   atomic.Bool
}

// Listen starts accepting connections on port (all of the engine's addresses).
func (e *Engine) Listen(port uint16) (*Listener, error) {
	var l *Listener
	var lerr error
	err := e.do(context.Background(), func() {
		if e.listeners[port] != nil {
			lerr = fmt.Errorf("tcp: listen %d: port in use", port)
			return
		}
		l = &Listener{e: e, port: port, accept: make(chan *Conn, e.cfg.AcceptBacklog), done: make(chan struct{})}
		e.listeners[port] = l
	})
	if err != nil {
		return nil, err
	}
	return l, lerr
}

// AcceptConn waits for the next established connection.
func (l *Listener) AcceptConn(ctx context.Context) (*Conn, error) {
	select {
	case c := <-l.accept:
		c.accepted.Store(true)
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.e.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptConn(context.Background())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Close stops listening; queued, unaccepted connections are reset.
func (l *Listener) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	if err := l.e.do(context.Background(), l.closeLocked); err != nil {
		return nil // engine gone: it closed everything
	}
	return nil
}

// closeLocked runs on the engine goroutine.
func (l *Listener) closeLocked() {
	e := l.e
	if e.listeners[l.port] == l {
		delete(e.listeners, l.port)
	}
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	for {
		select {
		case c := <-l.accept:
			c.appClosed.Store(true)
			c.abort(ErrAborted, true)
			continue
		default:
		}
		return
	}
}

// Addr returns the listening address (the engine's first address).
func (l *Listener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(l.e.addrs[0], l.port))
}
