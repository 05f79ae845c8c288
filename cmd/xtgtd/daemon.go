package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtgt/xtgt/iscsi/backstore"
	"github.com/xtgt/xtgt/iscsi/scsi"
	"github.com/xtgt/xtgt/iscsi/target"
)

// options are the command-line settings that shape the effective configuration.
type options struct {
	configPath  string
	portals     []string // --portal overrides the file's portals
	luns        []string // --lun replaces the file's targets with one target
	targetName  string
	logLevel    string
	nopInterval time.Duration
	nopTimeout  time.Duration
	adminSocket string // "" disables the admin API
	adminStrict bool   // the socket path was given explicitly: failing to bind it is fatal
	stateDir    string // --state-dir
}

// stateDir is where logical units keep persistent reservation state; set once at start-up.
var stateDir string

// prFile is the APTPL state file of LUN num of target tname ("" when there is no state directory).
func prFile(tname string, num uint64) string {
	if stateDir == "" {
		return ""
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, tname)
	return filepath.Join(stateDir, safe, fmt.Sprintf("lun-%d.pr", num))
}

// portGroups are the target port groups and ALUA states every SCSI target device gets; set once at start-up
// (a reload does not change portal groups).
var portGroups []scsi.PortGroup

// effectiveConfig reads the config file (when any) and applies the command-line overrides. fromFile reports
// whether the targets are the file's (so runtime LUN changes can be written back to it).
func effectiveConfig(o *options) (cfg *Config, fromFile bool, err error) {
	cfg = &Config{}
	if o.configPath != "" {
		if cfg, err = loadConfig(o.configPath); err != nil {
			return nil, false, err
		}
	}
	if len(o.portals) > 0 {
		cfg.Portals = slices.Clone(o.portals) // --portal replaces the file's portal groups too
		cfg.PortalGroups = nil
	}
	if len(cfg.Portals) == 0 && len(cfg.PortalGroups) == 0 {
		cfg.Portals = []string{defaultPortal}
	}
	fromFile = o.configPath != ""
	if len(o.luns) > 0 || len(cfg.Targets) == 0 {
		fromFile = false
		luns := o.luns
		if len(luns) == 0 {
			luns = []string{defaultLUN}
		}
		t := TargetConf{Name: o.targetName}
		for _, l := range luns {
			t.LUNs = append(t.LUNs, LUNConf{Backing: l})
		}
		cfg.Targets = []TargetConf{t}
		if err := cfg.validate(); err != nil {
			return nil, false, err
		}
	}
	cfg.normalizePortalGroups()
	if o.stateDir != "" {
		cfg.StateDir = o.stateDir
	}
	if cfg.StateDir == "" && o.configPath != "" {
		cfg.StateDir = filepath.Join(filepath.Dir(o.configPath), "xtgt-state")
	}
	stateDir = cfg.StateDir
	if o.logLevel != "" {
		cfg.LogLevel = o.logLevel
	}
	if cfg.LogLevel != "" {
		var level slog.Level
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return nil, false, fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
		}
	}
	if o.nopInterval != 0 {
		cfg.NopInterval = o.nopInterval
	}
	if cfg.NopInterval == 0 {
		cfg.NopInterval = 30 * time.Second
	}
	if cfg.NopInterval < 0 {
		cfg.NopInterval = 0
	}
	if o.nopTimeout != 0 {
		cfg.NopTimeout = o.nopTimeout
	}
	return cfg, fromFile, nil
}

func (c *Config) level() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel)) // checked by effectiveConfig
	return l
}

// daemon is a running xtgtd: the iSCSI server, what it was built from, and the admin API.
type daemon struct {
	opts  options
	log   *slog.Logger
	level *slog.LevelVar
	srv   *target.Server

	mu       sync.Mutex // serializes configuration changes; guards the fields below
	cfg      *Config    // the effective configuration applied last (its Targets are not kept up to date)
	fromFile bool
	targets  map[string]*tgtState
	portals  map[string]*portal

	wg    sync.WaitGroup
	errc  chan error
	admin *adminServer
}

type tgtState struct {
	conf TargetConf // access settings; LUNs live in luns
	t    *target.Target
	luns map[uint64]*lunState
}

type lunState struct {
	conf LUNConf
	be   scsi.Backend
}

type portal struct {
	l       net.Listener
	tag     uint16 // target portal group tag; 0 (portals added by a reload): the server's default, 1
	removed atomic.Bool
}

// startDaemon builds the targets, opens the portals and the admin socket, and starts serving. logOut receives
// the log (its level follows the configuration).
func startDaemon(o options, logHandler func(*slog.LevelVar) slog.Handler) (*daemon, error) {
	cfg, fromFile, err := effectiveConfig(&o)
	if err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	level.Set(cfg.level())
	log := slog.New(logHandler(level))
	d := &daemon{
		opts: o, log: log, level: level, cfg: cfg, fromFile: fromFile,
		targets: map[string]*tgtState{},
		portals: map[string]*portal{},
		errc:    make(chan error, 8),
	}
	portGroups = nil
	var pgs []target.PortalGroup
	tagOf := map[string]uint16{}
	for _, g := range cfg.PortalGroups {
		portGroups = append(portGroups, scsi.PortGroup{Tag: g.Tag, State: g.accessState()})
		pgs = append(pgs, target.PortalGroup{Tag: g.Tag, Portals: advertisedPortals(g.Portals)})
		for _, p := range g.Portals {
			tagOf[p] = g.Tag
		}
	}
	d.srv = target.NewServer(target.Config{
		Log:           log,
		PortalGroups:  pgs,
		Portals:       advertisedPortals(cfg.Portals),
		NopInterval:   cfg.NopInterval,
		NopTimeout:    cfg.NopTimeout,
		DiscoveryCHAP: chap(cfg.DiscoveryCHAP),
	})
	fail := func(err error) (*daemon, error) {
		for _, p := range d.portals {
			_ = p.l.Close()
		}
		_ = d.srv.Shutdown(context.Background())
		return nil, err
	}
	for _, tc := range cfg.Targets {
		ts, err := buildTarget(tc, log)
		if err != nil {
			return fail(err)
		}
		if err := d.srv.AddTarget(ts.t); err != nil {
			_ = ts.t.SCSI.Close()
			return fail(err)
		}
		d.targets[tc.Name] = ts
	}
	for _, p := range cfg.Portals {
		l, err := listen(p)
		if err != nil {
			return fail(err)
		}
		d.portals[p] = &portal{l: l, tag: tagOf[p]}
		log.Info("listening", "portal", l.Addr().String(), "tpgt", tagOf[p])
	}
	if o.adminSocket != "" {
		a, err := d.startAdmin(o.adminSocket)
		switch {
		case err == nil:
			d.admin = a
			log.Info("admin socket", "path", o.adminSocket)
		case o.adminStrict:
			return fail(err)
		default:
			log.Warn("admin socket disabled", "err", err)
		}
	}
	for _, p := range d.portals {
		d.serve(p)
	}
	for _, t := range cfg.Targets {
		log.Info("target ready", "target", t.Name, "luns", len(t.LUNs))
	}
	return d, nil
}

// serve runs the iSCSI server on p until it is removed or the server shuts down.
func (d *daemon) serve(p *portal) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := d.srv.ServeGroup(p.l, p.tag)
		if err == nil || errors.Is(err, target.ErrServerClosed) || p.removed.Load() {
			return
		}
		select {
		case d.errc <- fmt.Errorf("portal %s: %w", p.l.Addr(), err):
		default:
		}
	}()
}

// portalAddrs returns the bound address of every portal (useful with port 0).
func (d *daemon) portalAddrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, p := range d.portals {
		out = append(out, p.l.Addr().String())
	}
	slices.Sort(out)
	return out
}

// shutdown closes the admin socket, drains sessions until ctx is done and closes every logical unit.
func (d *daemon) shutdown(ctx context.Context) error {
	if d.admin != nil {
		d.admin.close()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.srv.Shutdown(ctx)
	for _, p := range d.portals {
		_ = p.l.Close() // the server closes the ones it serves; this catches any it never saw
	}
	d.wg.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// openLUN opens the backing store of lc.
func openLUN(tname string, num uint64, lc LUNConf) (*lunState, error) {
	be, err := backstore.Open(lc.Backing)
	if err != nil {
		return nil, fmt.Errorf("target %s lun %d: %w", tname, num, err)
	}
	return &lunState{conf: lc, be: be}, nil
}

// addLU makes ls logical unit num of dev; on failure the backend is closed.
func addLU(dev *scsi.Target, tname string, num uint64, ls *lunState) error {
	lc := ls.conf
	pr := prFile(tname, num)
	if pr != "" {
		if err := os.MkdirAll(filepath.Dir(pr), 0o700); err != nil {
			_ = ls.be.Close()
			return fmt.Errorf("target %s lun %d: state directory: %w", tname, num, err)
		}
	}
	err := dev.AddLU(num, scsi.LUConfig{Backend: ls.be, BlockSize: lc.BlockSize, ReadOnly: lc.ReadOnly,
		WriteBack: lc.writeBack(), Serial: lc.Serial, PRFile: pr, Removable: lc.Removable,
		PhysicalBlockExponent: lc.PhysicalBlockExponent})
	if err != nil {
		_ = ls.be.Close()
		return fmt.Errorf("target %s lun %d: %w", tname, num, err)
	}
	return nil
}

// closeLU flushes and closes the backend of a logical unit that was removed from its target.
func closeLU(ls *lunState) error {
	return errors.Join(ls.be.Flush(), ls.be.Close())
}

// buildTarget opens the backing stores of tc and assembles its target.
func buildTarget(tc TargetConf, log *slog.Logger) (*tgtState, error) {
	dev := scsi.NewTarget(log.With("target", tc.Name))
	if len(portGroups) > 0 {
		if err := dev.SetPortGroups(portGroups); err != nil {
			return nil, fmt.Errorf("target %s: %w", tc.Name, err)
		}
	}
	ts := &tgtState{conf: tc, luns: map[uint64]*lunState{}}
	ts.conf.LUNs = nil
	for i, num := range tc.lunNumbers() {
		ls, err := openLUN(tc.Name, num, tc.LUNs[i])
		if err == nil {
			err = addLU(dev, tc.Name, num, ls)
		}
		if err != nil {
			_ = dev.Close()
			return nil, err
		}
		ts.luns[num] = ls
	}
	ts.t = accessTarget(tc, dev)
	return ts, nil
}

// accessTarget is the target.Target of tc over device dev.
func accessTarget(tc TargetConf, dev *scsi.Target) *target.Target {
	t := &target.Target{Name: tc.Name, Alias: tc.Alias, SCSI: dev, CHAP: chap(tc.CHAP), MutualCHAP: chap(tc.MutualCHAP)}
	for _, a := range tc.ACL {
		t.ACL = append(t.ACL, target.ACLEntry{InitiatorName: a.Initiator, CHAP: chap(a.CHAP)})
	}
	return t
}
