package tcp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	rxBatch    = 64
	txBatch    = 64
	maxTxFrags = 18 // transmit buffers per packet at most (MAX_SKB_FRAGS + 1 in Linux copy mode)
)

// Engine runs TCP for one link queue on one locked OS thread. Connections are owned by the
// engine; the application talks to them through Conn's stream methods.
type Engine struct {
	cfg   Config
	link  Link
	mac   MAC
	addrs []netip.Addr
	Stats EngineStats

	conns     map[connKey]*Conn
	listeners map[uint16]*Listener
	wheel     timerWheel
	start     time.Time
	now       int64
	rng       *mrand.Rand

	rx       [][]byte
	rxMore   []bool
	moreKept []bool // per continuation frame of the packet being processed: retained
	relq     [][]byte
	txq      []TxFrame
	retq     [][]byte // acknowledged kept frames to return to the link
	txFree   [][]byte
	txTmp    [][]byte
	seg      Segment
	dirty    *Conn
	fireFn   func(*timerEntry)
	mss      int // advertised receive MSS (IPv4); IPv6 is 20 less
	csumMode int
	txCsum   bool // the link completes TCP checksums
	sndMax   int  // largest segment payload the link can send (IPv4; IPv6 is 20 less)
	fragBufs [][]byte
	// Kept data frames across connections (Stats.KeptFrames) stay below this, so that ACKs and
	// retransmissions always find transmit buffers.
	maxRetained int
	chalSec     int64
	chalN       int

	kicks   chan *Conn
	cmds    chan func()
	done    chan struct{}
	stopped atomic.Bool
	// Wake suppression: application kicks wake the link only while the engine sleeps.
	sleeping atomic.Bool
	kickGen  atomic.Uint64
	seenGen  uint64
	runOnce  sync.Once
	errMu    sync.Mutex
	runErr   error
}

// NewEngine creates an engine over link. Call Run to start it.
func NewEngine(link Link, cfg Config) (*Engine, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("tcp: engine needs at least one local address")
	}
	c := cfg.withDefaults()
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	e := &Engine{
		cfg:       c,
		link:      link,
		mac:       link.Addr(),
		addrs:     c.Addrs,
		conns:     make(map[connKey]*Conn),
		listeners: make(map[uint16]*Listener),
		rng:       mrand.New(mrand.NewChaCha8(seed)),
		rx:        make([][]byte, rxBatch),
		rxMore:    make([]bool, rxBatch),
		moreKept:  make([]bool, rxBatch),
		relq:      make([][]byte, 0, 4*rxBatch),
		txq:       make([]TxFrame, 0, txBatch+maxTxFrags),
		retq:      make([][]byte, 0, txBatch),
		txFree:    make([][]byte, 0, txBatch),
		txTmp:     make([][]byte, txBatch),
		kicks:     make(chan *Conn, 4096),
		cmds:      make(chan func(), 64),
		done:      make(chan struct{}),
		start:     time.Now(),
	}
	mtuMSS := link.MTU() - IPv4HeaderLen - TCPHeaderLen
	frameMSS := link.FrameSize() - EthHeaderLen - IPv6HeaderLen - TCPMaxHeaderLen
	e.mss = min(mtuMSS, frameMSS+20)
	if link.RxMultiBuffer() {
		e.mss = mtuMSS
	}
	if e.mss < 536 {
		return nil, fmt.Errorf("tcp: link frame size %d / mtu %d too small", link.FrameSize(), link.MTU())
	}
	frags := min(max(link.TxFragments(), 1), maxTxFrags)
	e.sndMax = min(mtuMSS, frameMSS+20+(frags-1)*link.FrameSize())
	e.fragBufs = make([][]byte, 0, frags)
	e.txCsum = link.TxChecksumOffload()
	e.maxRetained = link.TxCapacity() * 3 / 4
	if e.maxRetained < 8 {
		return nil, fmt.Errorf("tcp: link has %d transmit buffers, too few", link.TxCapacity())
	}
	e.fireFn = func(t *timerEntry) { t.conn.onTimer() }
	switch {
	case link.RxChecksumVerified():
		e.csumMode = csumTrust
	case c.AcceptPartialChecksum:
		e.csumMode = csumPartial
	}
	e.wheel.init(0)
	return e, nil
}

// Done is closed when Run returns.
func (e *Engine) Done() <-chan struct{} { return e.done }

func (e *Engine) clock() int64 { return int64(time.Since(e.start)) }

func (e *Engine) isLocal(a netip.Addr) bool {
	for _, x := range e.addrs {
		if x == a {
			return true
		}
	}
	return false
}

// Run runs the engine loop on a locked OS thread until ctx is done. All connections are aborted
// when it returns.
func (e *Engine) Run(ctx context.Context) error {
	started := false
	e.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("tcp: engine already ran")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(e.done)
	stop := context.AfterFunc(ctx, e.link.Wake)
	defer stop()
	for ctx.Err() == nil {
		e.now = e.clock()
		busy := e.poll()
		if busy {
			continue
		}
		d := e.wheel.nextDelay(e.now)
		if d < 0 || d > int64(time.Second) {
			d = int64(time.Second)
		}
		if e.dirty != nil {
			d = min(d, int64(50*time.Microsecond))
		}
		e.sleeping.Store(true)
		if e.kickGen.Load() != e.seenGen || len(e.kicks) > 0 || len(e.cmds) > 0 {
			e.sleeping.Store(false)
			continue
		}
		err := e.link.Wait(time.Duration(d))
		e.sleeping.Store(false)
		if err != nil {
			e.shutdown(err)
			return fmt.Errorf("tcp: link wait: %w", err)
		}
	}
	e.shutdown(ErrEngineDown)
	return nil
}

// poll does one iteration: receive a batch, run commands and kicks, timers, output. It reports
// whether any work was done.
func (e *Engine) poll() bool {
	work := false
	n := e.link.Receive(e.rx, e.rxMore)
	if n > 0 {
		work = true
		e.Stats.FramesIn.Add(uint64(n))
		for i := 0; i < n; {
			j := i
			for j < n-1 && e.rxMore[j] {
				j++
			}
			if j == i {
				if !e.input(e.rx[i], nil) {
					e.relq = append(e.relq, e.rx[i])
				}
			} else {
				e.inputMulti(e.rx[i : j+1])
			}
			clear(e.rx[i : j+1])
			clear(e.rxMore[i : j+1])
			i = j + 1
		}
	}
	e.seenGen = e.kickGen.Load()
	for i := 0; i < 256; i++ {
		select {
		case c := <-e.kicks:
			work = true
			c.kicked.Store(false)
			c.onKick()
			continue
		case fn := <-e.cmds:
			work = true
			fn()
			continue
		default:
		}
		break
	}
	e.wheel.advance(e.now, e.fireFn)
	for c := e.dirty; c != nil; {
		next := c.dirtyNext
		c.dirtyNext = nil
		c.inDirty = false
		e.dirty = next
		c.output()
		if c.inDirty {
			// Output stalled for want of TX buffers; keep the rest for the next round.
			break
		}
		c = next
	}
	e.flush()
	return work
}

func (e *Engine) markDirty(c *Conn) {
	if c.inDirty {
		return
	}
	c.inDirty = true
	c.dirtyNext = e.dirty
	e.dirty = c
}

// release queues a received frame view for return to the link.
func (e *Engine) release(v []byte) {
	e.relq = append(e.relq, v)
	if len(e.relq) == cap(e.relq) {
		e.link.Release(e.relq)
		clear(e.relq)
		e.relq = e.relq[:0]
	}
}

// txBuf returns an empty transmit buffer, or nil if the link has none.
func (e *Engine) txBuf() []byte {
	if len(e.txFree) == 0 {
		n := e.link.TxBuffers(e.txTmp)
		if n == 0 {
			e.flush()
			n = e.link.TxBuffers(e.txTmp)
			if n == 0 {
				e.Stats.TxStalls.Add(1)
				return nil
			}
		}
		e.txFree = append(e.txFree, e.txTmp[:n]...)
		clear(e.txTmp[:n])
	}
	b := e.txFree[len(e.txFree)-1]
	e.txFree[len(e.txFree)-1] = nil
	e.txFree = e.txFree[:len(e.txFree)-1]
	return b
}

// send queues a built frame; the queue is flushed at packet boundaries only, so that a
// multi-buffer packet reaches the link whole.
func (e *Engine) send(f TxFrame) {
	e.txq = append(e.txq, f)
	if !f.More && len(e.txq) >= txBatch {
		e.flushTx()
	}
}

// returnFrame queues an acknowledged kept frame for return to the link.
func (e *Engine) returnFrame(f []byte) {
	e.Stats.KeptFrames.Add(-1)
	e.retq = append(e.retq, f)
	if len(e.retq) == cap(e.retq) {
		e.flushReturns()
	}
}

func (e *Engine) flushReturns() {
	if len(e.retq) > 0 {
		e.link.ReturnTx(e.retq)
		clear(e.retq)
		e.retq = e.retq[:0]
	}
}

func (e *Engine) flushTx() {
	if len(e.txq) == 0 {
		return
	}
	e.Stats.FramesOut.Add(uint64(len(e.txq)))
	if err := e.link.Transmit(e.txq); err != nil {
		e.cfg.Logger.Debug("tcp: transmit", "err", err)
	}
	clear(e.txq)
	e.txq = e.txq[:0]
}

func (e *Engine) flush() {
	e.flushTx()
	e.flushReturns()
	if len(e.relq) > 0 {
		e.link.Release(e.relq)
		clear(e.relq)
		e.relq = e.relq[:0]
	}
}

func (e *Engine) shutdown(err error) {
	e.stopped.Store(true)
	for _, c := range e.conns {
		c.abort(err, true) // tell peers; the link is still up
	}
	for _, l := range e.listeners {
		l.closeLocked()
	}
	// Drain kicks so application releases reach the link.
	for {
		select {
		case c := <-e.kicks:
			c.onKick()
			continue
		case fn := <-e.cmds:
			fn()
			continue
		default:
		}
		break
	}
	e.flush()
	if len(e.txFree) > 0 {
		e.link.ReturnTx(e.txFree)
		clear(e.txFree)
		e.txFree = e.txFree[:0]
	}
}

// do runs fn on the engine goroutine and waits for it.
func (e *Engine) do(ctx context.Context, fn func()) error {
	if e.stopped.Load() {
		return ErrEngineDown
	}
	ch := make(chan struct{})
	select {
	case e.cmds <- func() { fn(); close(ch) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return ErrEngineDown
	}
	e.link.Wake()
	select {
	case <-ch:
		return nil
	case <-e.done:
		return ErrEngineDown
	}
}

// kick asks the engine to look at c (application activity).
func (e *Engine) kick(c *Conn) {
	if c.kicked.CompareAndSwap(false, true) {
		select {
		case e.kicks <- c:
		case <-e.done:
			return
		}
		e.kickGen.Add(1)
		if e.sleeping.Load() {
			e.link.Wake()
		}
	}
}

// isn returns an initial sequence number (random; RFC 9293 §3.4.1 / RFC 6528 intent).
func (e *Engine) isn() Seq { return Seq(e.rng.Uint32()) }

func (e *Engine) tsNow() uint32 { return uint32(e.now / 1e6) }

// challengeAllowed rate-limits challenge ACKs (RFC 5961 §7).
func (e *Engine) challengeAllowed() bool {
	sec := e.now / 1e9
	if sec != e.chalSec {
		e.chalSec, e.chalN = sec, 0
	}
	if e.chalN >= e.cfg.ChallengeAckLimit {
		e.Stats.ChallengeAckLimited.Add(1)
		return false
	}
	e.chalN++
	return true
}
