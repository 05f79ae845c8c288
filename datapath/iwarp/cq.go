package iwarp

import (
	"context"
	"sync"

	"github.com/xtgt/xtgt/datapath/verbs"
)

// CQ is a completion queue (a ring of WC).
type CQ struct {
	mu            sync.Mutex
	ring          []verbs.WC
	head, n       int
	armed         bool
	solicitedOnly bool
	ch            *CompChannel
	overruns      uint64
	closed        bool
}

func newCQ(depth int, ch *CompChannel) *CQ {
	return &CQ{ring: make([]verbs.WC, max(depth, 1)), ch: ch}
}

// push adds wc; a full CQ drops it and counts an overrun (the consumer sized the CQ too small).
func (c *CQ) push(wc verbs.WC) {
	c.mu.Lock()
	if c.n == len(c.ring) || c.closed {
		c.overruns++
		c.mu.Unlock()
		return
	}
	c.ring[(c.head+c.n)%len(c.ring)] = wc
	c.n++
	fire := c.armed && (!c.solicitedOnly || wc.Flags&verbs.WCSolicited != 0 || wc.Status != verbs.StatusSuccess)
	if fire {
		c.armed = false
	}
	c.mu.Unlock()
	if fire && c.ch != nil {
		select {
		case c.ch.events <- c:
		default:
		}
	}
}

func (c *CQ) Poll(wc []verbs.WC) int {
	c.mu.Lock()
	k := min(len(wc), c.n)
	for i := 0; i < k; i++ {
		wc[i] = c.ring[c.head]
		c.ring[c.head] = verbs.WC{}
		c.head = (c.head + 1) % len(c.ring)
	}
	c.n -= k
	c.mu.Unlock()
	return k
}

func (c *CQ) ReqNotify(solicitedOnly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return verbs.ErrClosed
	}
	// Completions already queued fire at once, so a consumer cannot miss them between Poll and ReqNotify.
	if c.n > 0 && !solicitedOnly && c.ch != nil {
		select {
		case c.ch.events <- c:
		default:
		}
		return nil
	}
	c.armed, c.solicitedOnly = true, solicitedOnly
	return nil
}

// Overruns counts completions dropped because the CQ was full.
func (c *CQ) Overruns() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overruns
}

func (c *CQ) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// CompChannel delivers CQ events.
type CompChannel struct {
	events chan *CQ
	done   chan struct{}
	once   sync.Once
}

func (ch *CompChannel) GetEvent(ctx context.Context) (verbs.CQ, error) {
	select {
	case c := <-ch.events:
		return c, nil
	case <-ch.done:
		return nil, verbs.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (ch *CompChannel) Close() error {
	ch.once.Do(func() { close(ch.done) })
	return nil
}
