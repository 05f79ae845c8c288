//go:build linux

// Package xdplisten serves TCP through the userspace engine on AF_XDP: it attaches the XDP
// classifier (package bpf, the same pins as xdpctl) if needed, steers (IP, port) to one AF_XDP
// socket per receive queue, runs one engine per queue and presents them as a net.Listener. Close
// tears down exactly what Listen set up.
package xdplisten

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/xtgt/xtgt/bpf"
	"github.com/xtgt/xtgt/datapath/link/neigh"
	"github.com/xtgt/xtgt/datapath/link/xsklink"
	"github.com/xtgt/xtgt/datapath/tcp"
	"github.com/xtgt/xtgt/datapath/xsk"
)

const (
	defaultFrames     = 16384     // 32 MiB of UMEM per queue at 2 KiB frames
	defaultRecvBuffer = 256 << 10 // per connection
)

// Options configure Listen. Zero values select defaults.
type Options struct {
	Logger  *slog.Logger
	Mode    bpf.Mode   // XDP attach mode (auto: native, else generic)
	Force   bool       // replace a foreign XDP program
	PinRoot string     // bpffs pin root (default bpf.DefaultPinRoot)
	Queues  int        // receive queues to serve (default: all of the interface's)
	XSK     xsk.Config // TxChecksum defaults to offload (see SoftwareChecksum)
	// SoftwareChecksum keeps TX checksums in the engine even where the kernel offers
	// completion through AF_XDP TX metadata.
	SoftwareChecksum bool
	// TCP configures each engine; Addrs is set to the listening address and Resolve defaults to
	// the kernel's neighbour table.
	TCP tcp.Config
}

// Listener is a net.Listener over one engine per queue.
type Listener struct {
	log        *slog.Logger
	steer      *bpf.Steering
	rule       bpf.Rule
	ruleOwned  bool
	registered []int
	socks      []*xsk.Socket
	links      []*xsklink.Link
	engines    []*tcp.Engine
	lns        []*tcp.Listener
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	accept     chan *tcp.Conn
	done       chan struct{}
	closeOnce  sync.Once
	closeErr   error
	addr       netip.AddrPort
}

// Listen sets up AF_XDP serving of ip:port on iface (in the calling thread's network namespace).
func Listen(ctx context.Context, iface string, ip netip.Addr, port uint16, opts Options) (_ *Listener, err error) {
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	nl, err := netlink.LinkByName(iface)
	if err != nil {
		return nil, fmt.Errorf("xdplisten: %s: %w", iface, err)
	}
	l := &Listener{log: lg, rule: bpf.Rule{Addr: ip, Port: port}, accept: make(chan *tcp.Conn, 128),
		done: make(chan struct{}), addr: netip.AddrPortFrom(ip, port)}
	defer func() {
		if err != nil {
			l.teardown()
		}
	}()
	l.steer, err = bpf.Attach(iface, bpf.Options{Mode: opts.Mode, Force: opts.Force, PinRoot: opts.PinRoot, Logger: lg})
	if err != nil {
		return nil, fmt.Errorf("xdplisten: %w", err)
	}
	nq := opts.Queues
	if nq <= 0 {
		nq = max(nl.Attrs().NumRxQueues, 1)
	}
	nq = min(nq, bpf.MaxQueues)
	// Received payload stays in UMEM until the application releases it, so the RX frame pool
	// must cover the receive windows of the connections on a queue: a larger UMEM and a
	// smaller per-connection window than the engine's defaults.
	// A received frame starts XDP_PACKET_HEADROOM (256) into its UMEM chunk: 2 KiB frames
	// carry a 1500-byte MTU, 4 KiB ones about 3.8 KiB. Above that (jumbo frames) the engine
	// sends each segment over several frames (multi-buffer AF_XDP) and advertises a receive
	// MSS that fits one.
	mtu := nl.Attrs().MTU
	if opts.XSK.FrameSize == 0 {
		opts.XSK.FrameSize = 2048
		if mtu+14 > 2048-256 {
			opts.XSK.FrameSize = 4096
		}
	}
	if mtu+14 > opts.XSK.FrameSize-256 {
		opts.XSK.MultiBuffer = true
	}
	if opts.XSK.NumFrames == 0 {
		opts.XSK.NumFrames = defaultFrames
		if opts.XSK.RingSize == 0 {
			opts.XSK.RingSize = defaultFrames / 2 // the RX half must fit the fill ring
		}
	}
	if opts.TCP.RecvBuffer == 0 {
		opts.TCP.RecvBuffer = defaultRecvBuffer
	}
	if opts.XSK.TxChecksum == xsk.TxChecksumOff && !opts.SoftwareChecksum {
		opts.XSK.TxChecksum = xsk.TxChecksumOffload
	}
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for q := 0; q < nq; q++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		xc := opts.XSK
		xc.Ifindex, xc.Queue = nl.Attrs().Index, q
		s, err := xsk.Open(xc)
		if err != nil {
			if q > 0 && opts.Queues <= 0 {
				// Fewer active queues than allocated (IFLA_NUM_RX_QUEUES counts allocated
				// ones, e.g. on veth): serve those that bind.
				lg.Debug("xdplisten: queue does not bind; serving fewer", "queue", q, "err", err)
				break
			}
			return nil, fmt.Errorf("xdplisten: queue %d: %w", q, err)
		}
		l.socks = append(l.socks, s)
		if xc.MultiBuffer && !s.MultiBuffer() {
			lg.Warn("xdplisten: no multi-buffer AF_XDP: segments are limited to one frame", "queue", q, "mtu", mtu)
		}
		lk, err := xsklink.New(s, iface)
		if err != nil {
			return nil, err
		}
		l.links = append(l.links, lk)
		tc := opts.TCP
		tc.Addrs = []netip.Addr{ip}
		if tc.Logger == nil {
			tc.Logger = lg
		}
		if nl.Type() == "veth" {
			// A local Linux peer's CHECKSUM_PARTIAL segments reach AF_XDP uncompleted.
			tc.AcceptPartialChecksum = true
		}
		if tc.Resolve == nil {
			tc.Resolve = func(a netip.Addr) (tcp.MAC, error) { return neigh.Resolve(a, time.Second) }
		}
		e, err := tcp.NewEngine(lk, tc)
		if err != nil {
			return nil, fmt.Errorf("xdplisten: queue %d: %w", q, err)
		}
		l.engines = append(l.engines, e)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := e.Run(runCtx); err != nil {
				lg.Error("tcp engine stopped", "queue", q, "err", err)
			}
		}()
		tl, err := e.Listen(port)
		if err != nil {
			return nil, fmt.Errorf("xdplisten: queue %d: %w", q, err)
		}
		l.lns = append(l.lns, tl)
		l.wg.Add(1)
		go l.fanIn(tl)
		if err := s.Register(l.steer); err != nil {
			return nil, fmt.Errorf("xdplisten: register queue %d: %w", q, err)
		}
		l.registered = append(l.registered, q)
	}
	// Steer only once every queue has a socket and an engine.
	had, err := l.hasRule()
	if err != nil {
		return nil, err
	}
	if !had {
		if err := l.steer.AddRule(l.rule); err != nil {
			return nil, fmt.Errorf("xdplisten: steer %v: %w", l.rule, err)
		}
		l.ruleOwned = true
	}
	lg.Info("xdp listener up", "iface", iface, "addr", l.addr, "queues", len(l.engines), "attached", l.steer.Attached(),
		"mode", l.steer.Mode())
	return l, nil
}

func (l *Listener) hasRule() (bool, error) {
	rs, err := l.steer.Rules()
	if err != nil {
		return false, fmt.Errorf("xdplisten: rules: %w", err)
	}
	for _, r := range rs {
		if r.Rule == l.rule {
			return true, nil
		}
	}
	return false, nil
}

func (l *Listener) fanIn(tl *tcp.Listener) {
	defer l.wg.Done()
	for {
		c, err := tl.AcceptConn(context.Background())
		if err != nil {
			return
		}
		select {
		case l.accept <- c:
		case <-l.done:
			c.Abort()
			return
		}
	}
}

// AcceptConn returns the next connection as the engine's type (for ReadView/Writev).
func (l *Listener) AcceptConn(ctx context.Context) (*tcp.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
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

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// Engines returns the per-queue engines (for statistics and active opens).
func (l *Listener) Engines() []*tcp.Engine { return l.engines }

// Close stops serving and removes what Listen added: the steering rule (if it added it), the
// queue registrations, the sockets, and the classifier (only if Listen attached it).
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.teardown() })
	return l.closeErr
}

func (l *Listener) teardown() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	var errs []error
	if l.ruleOwned {
		if err := l.steer.DelRule(l.rule); err != nil && !errors.Is(err, bpf.ErrNoRule) {
			errs = append(errs, err)
		}
		l.ruleOwned = false
	}
	for _, tl := range l.lns {
		tl.Close()
	}
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
	// Connections still queued for Accept were aborted by the engines' shutdown.
	for {
		select {
		case c := <-l.accept:
			c.Close()
			continue
		default:
		}
		break
	}
	for _, q := range l.registered {
		if err := l.steer.UnregisterXSK(q); err != nil {
			errs = append(errs, err)
		}
	}
	l.registered = nil
	for _, lk := range l.links {
		lk.Close()
	}
	for _, s := range l.socks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	l.links, l.socks = nil, nil
	if l.steer != nil {
		var err error
		if l.steer.Attached() {
			err = l.steer.Detach()
		} else {
			err = l.steer.Close()
		}
		if err != nil {
			errs = append(errs, err)
		}
		l.steer = nil
	}
	if len(errs) > 0 {
		return fmt.Errorf("xdplisten: close: %w", errors.Join(errs...))
	}
	return nil
}
