package tcp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/tcp"
)

// TestMemCloseWhileReading closes server connections from other goroutines while each one's
// reader is blocked in Read (how an iSCSI target tears a session down on a target reset): Close
// must not wait for the peer, the readers must return net.ErrClosed, the peers must see the FIN,
// and the peer's immediate reconnects must be accepted.
func TestMemCloseWhileReading(t *testing.T) {
	p := newPair(t, nil)
	const n = 4
	const port = 3260
	l, err := p.b.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for round := range 2 {
		clients := make([]*tcp.Conn, n)
		servers := make([]*tcp.Conn, n)
		for i := range n {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := p.a.Dial(ctx, netip.AddrPortFrom(ipB, port))
			if err != nil {
				cancel()
				t.Fatalf("round %d: dial %d: %v", round, i, err)
			}
			s, err := l.AcceptConn(ctx)
			cancel()
			if err != nil {
				t.Fatalf("round %d: accept %d: %v", round, i, err)
			}
			clients[i], servers[i] = c, s
		}
		readErr := make(chan error, n)
		for _, s := range servers {
			go func() {
				_, err := s.Read(make([]byte, 48))
				readErr <- err
			}()
		}
		time.Sleep(20 * time.Millisecond) // let the readers block
		var wg sync.WaitGroup
		closed := make(chan struct{})
		for _, s := range servers {
			wg.Go(func() { _ = s.Close() })
		}
		go func() { wg.Wait(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: Close blocked behind a reader waiting in Read", round)
		}
		for range n {
			select {
			case err := <-readErr:
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("round %d: blocked Read after Close: err %v, want net.ErrClosed", round, err)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("round %d: Read still blocked after Close", round)
			}
		}
		for i, c := range clients {
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("round %d: client %d: read %v, want io.EOF (server FIN)", round, i, err)
			}
			_ = c.Close()
		}
		// A Read after Close reports the close instead of blocking.
		if _, err := servers[0].Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("round %d: Read after Close: %v, want net.ErrClosed", round, err)
		}
	}
}
