package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// Target is one iSCSI target node: a name, its SCSI logical units and who may log in.
type Target struct {
	Name  string
	Alias string
	SCSI  *scsi.Target
	// ACL lists the initiators allowed to log in; empty allows every initiator.
	ACL []ACLEntry
	// CHAP, when set, requires one-way CHAP with these credentials (the initiator's user and secret).
	CHAP *login.CHAPSecret
	// MutualCHAP, when set, is the target's own user and secret for mutual CHAP.
	MutualCHAP *login.CHAPSecret
}

// ACLEntry admits one initiator, optionally with its own CHAP credentials instead of the target's.
type ACLEntry struct {
	InitiatorName string
	CHAP          *login.CHAPSecret
}

// admit reports whether initiator may log in to t, and the CHAP credentials it must present (nil: none).
func (t *Target) admit(initiator string) (ok bool, chap *login.CHAPSecret) {
	if len(t.ACL) == 0 {
		return true, t.CHAP
	}
	for _, a := range t.ACL {
		if a.InitiatorName == initiator {
			if a.CHAP != nil {
				return true, a.CHAP
			}
			return true, t.CHAP
		}
	}
	return false, nil
}

// Config holds the target-wide settings.
type Config struct {
	Log *slog.Logger
	// PortalGroupTag is the tag of connections accepted by Serve (and ServeGroup with tag 0), reported in
	// TargetPortalGroupTag and SendTargets; default 1.
	PortalGroupTag uint16
	// Portals are the addresses reported in SendTargets ("host:port"); when empty, those of PortalGroups, and
	// without these the connection's local address is reported.
	Portals []string
	// PortalGroups gives portals a target portal group tag other than PortalGroupTag in SendTargets (alua.go).
	// Connections take the tag of the listener they arrive on (ServeGroup).
	PortalGroups []PortalGroup
	// Limits are the operational values this target offers (login.DefaultParams when zero).
	Limits login.Params
	// DiscoveryCHAP, when set, requires CHAP for discovery sessions.
	DiscoveryCHAP *login.CHAPSecret
	// CmdWindow is how many commands an initiator may have outstanding (MaxCmdSN - ExpCmdSN + 1); default 128.
	CmdWindow uint32
	// NopInterval is how long a connection may be idle before the target pings it with a NOP-In; 0 disables.
	NopInterval time.Duration
	// NopTimeout is how long the target waits for the ping's answer before dropping the connection.
	NopTimeout time.Duration
	// LoginTimeout bounds the whole login phase.
	LoginTimeout time.Duration
}

// DefaultLimits are the operational parameters xtgt offers.
func DefaultLimits() login.Params {
	p := login.DefaultParams()
	p.MaxRecvDataSegmentLength = 256 << 10
	p.MaxBurstLength = 16 << 20
	p.FirstBurstLength = 256 << 10
	p.MaxOutstandingR2T = 8
	p.ImmediateData = true
	p.InitialR2T = false
	p.MaxConnections = 1
	p.ErrorRecoveryLevel = 0
	p.HeaderDigest = true
	p.DataDigest = true
	return p
}

type sessionKey struct {
	initiator string
	isid      uint64
	target    string
}

// Server accepts connections and runs sessions for a set of targets.
type Server struct {
	cfg Config
	log *slog.Logger

	mu        sync.Mutex
	targets   map[string]*Target
	sessions  map[sessionKey]*session
	tsih      map[uint16]*session
	nextTSIH  uint16
	conns     map[*conn]uint16 // connection -> target portal group tag of its listener
	listeners map[net.Listener]struct{}
	draining  bool
	wg        sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("target: server closed")

// NewServer returns a server with no targets.
func NewServer(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.CmdWindow == 0 {
		cfg.CmdWindow = 128
	}
	if cfg.Limits.MaxRecvDataSegmentLength == 0 {
		cfg.Limits = DefaultLimits()
	}
	if cfg.NopTimeout == 0 {
		cfg.NopTimeout = 60 * time.Second
	}
	if cfg.LoginTimeout == 0 {
		cfg.LoginTimeout = 30 * time.Second
	}
	if cfg.PortalGroupTag == 0 {
		cfg.PortalGroupTag = 1
	}
	return &Server{
		cfg: cfg, log: cfg.Log,
		targets:   map[string]*Target{},
		sessions:  map[sessionKey]*session{},
		tsih:      map[uint16]*session{},
		conns:     map[*conn]uint16{},
		listeners: map[net.Listener]struct{}{},
	}
}

// AddTarget registers t.
func (s *Server) AddTarget(t *Target) error {
	if t.Name == "" || t.SCSI == nil {
		return fmt.Errorf("target: add target %q: name and SCSI device required", t.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.targets[t.Name]; ok {
		return fmt.Errorf("target: add target %q: already exists", t.Name)
	}
	s.targets[t.Name] = t
	name := t.Name
	t.SCSI.SetPreemptAbortFunc(func(lun uint64, n scsi.Nexus) { s.abortNexus(name, lun, n) })
	return nil
}

// SetPortals replaces the addresses reported by SendTargets (after a reconfiguration).
func (s *Server) SetPortals(portals []string) {
	s.mu.Lock()
	s.cfg.Portals = append([]string(nil), portals...)
	s.mu.Unlock()
}

// Targets returns the registered targets sorted by name.
func (s *Server) Targets() []*Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Target, 0, len(s.targets))
	for _, t := range s.targets {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Target) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

func (s *Server) target(name string) *Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.targets[name]
}

// Serve accepts connections on l until Shutdown or a listener error; they belong to target portal group
// Config.PortalGroupTag.
func (s *Server) Serve(l net.Listener) error { return s.ServeGroup(l, 0) }

// ServeGroup accepts connections on l, which belong to target portal group tag (0: Config.PortalGroupTag),
// until Shutdown or a listener error.
func (s *Server) ServeGroup(l net.Listener, tag uint16) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			d := s.draining
			s.mu.Unlock()
			if d {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("target: accept: %w", err)
		}
		backoff = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		s.ServeTransportGroup(NewTCPTransport(nc), nc, tag)
	}
}

// ServeTransport runs one connection over tr in its own goroutines. nc, when not nil, is used for login
// deadlines.
func (s *Server) ServeTransport(tr Transport, nc net.Conn) { s.ServeTransportGroup(tr, nc, 0) }

// ServeTransportGroup is ServeTransport for a connection of target portal group tag (0:
// Config.PortalGroupTag).
func (s *Server) ServeTransportGroup(tr Transport, nc net.Conn, tag uint16) {
	if tag == 0 {
		tag = s.cfg.PortalGroupTag
	}
	c := newConn(s, tr, nc)
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		_ = tr.Close()
		return
	}
	s.conns[c] = tag
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

// Shutdown stops accepting, asks every initiator to log out, waits for in-flight commands until ctx is done,
// closes all connections, and flushes and closes every target's logical units.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for l := range s.listeners {
		_ = l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.close(errors.New("shutdown deadline"))
		}
		s.mu.Unlock()
		<-done
	}
	var errs []error
	for _, t := range s.Targets() {
		if err := t.SCSI.Close(); err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// SessionInfo describes one session for administration.
type SessionInfo struct {
	TSIH          uint16
	InitiatorName string
	ISID          uint64
	TargetName    string
	Discovery     bool
	Remote        string
}

// Sessions lists the current sessions.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SessionInfo
	for _, ss := range s.tsih {
		out = append(out, ss.info())
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return int(a.TSIH) - int(b.TSIH) })
	return out
}

// registerSession assigns a TSIH and registers ss, returning the session it reinstates (same initiator port
// and target), if any, which the caller must close.
func (s *Server) registerSession(ss *session) (old *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < 1<<16; i++ {
		s.nextTSIH++
		if s.nextTSIH == 0 {
			s.nextTSIH = 1
		}
		if _, used := s.tsih[s.nextTSIH]; !used {
			break
		}
	}
	ss.tsih = s.nextTSIH
	s.tsih[ss.tsih] = ss
	if !ss.discovery {
		old = s.sessions[ss.key]
		s.sessions[ss.key] = ss
		if old != nil {
			delete(s.tsih, old.tsih)
		}
	}
	return old
}

// unregisterSession forgets ss; it reports false when a newer session has reinstated ss's I_T nexus.
func (s *Server) unregisterSession(ss *session) (owned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tsih[ss.tsih] == ss {
		delete(s.tsih, ss.tsih)
	}
	if s.sessions[ss.key] == ss {
		delete(s.sessions, ss.key)
		return true
	}
	return ss.discovery
}

func (s *Server) sessionByTSIH(tsih uint16) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tsih[tsih]
}

// abortNexus aborts the tasks of I_T nexus n on lun (PERSISTENT RESERVE OUT / PREEMPT AND ABORT) without
// waiting for them.
func (s *Server) abortNexus(target string, lun uint64, n scsi.Nexus) {
	raw := scsi.EncodeLUN(lun)
	s.mu.Lock()
	var victims []*session
	for _, ss := range s.tsih {
		if !ss.discovery && ss.key.target == target && ss.nexus == n {
			victims = append(victims, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range victims {
		ss.abortTasks(func(t *task) bool { return t.lun == raw }, nil, false)
	}
}

// sessionsOf returns the live sessions of target t.
func (s *Server) sessionsOf(t *Target) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	for _, ss := range s.tsih {
		// By name: a reconfigured target (Server.ReplaceTarget) is a new *Target for the same device.
		if !ss.discovery && ss.key.target == t.Name {
			out = append(out, ss)
		}
	}
	return out
}
