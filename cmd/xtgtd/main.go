// Command xtgtd is the xtgt iSCSI target daemon. With no arguments it serves target
// iqn.2026-11.dev.xtgt:default with LUN 0 a 1 GiB RAM disk on 127.0.0.1:3260 over kernel TCP.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xtgt/xtgt/iscsi/backstore"
	"github.com/xtgt/xtgt/iscsi/login"
	"github.com/xtgt/xtgt/iscsi/scsi"
	"github.com/xtgt/xtgt/iscsi/target"
)

const (
	defaultTarget = "iqn.2026-11.dev.xtgt:default"
	defaultPortal = "127.0.0.1:3260"
	defaultLUN    = "ram:1G"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "xtgtd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("xtgtd", flag.ContinueOnError)
	var portals, luns multiFlag
	fs.Var(&portals, "portal", "listen address HOST:PORT (repeatable; default "+defaultPortal+")")
	fs.Var(&luns, "lun", "logical unit ram:SIZE | file:PATH[:SIZE] | block:PATH (repeatable, LUN 0, 1, ...)")
	targetName := fs.String("target", defaultTarget, "target IQN (when not using --config)")
	configPath := fs.String("config", "", "YAML configuration file")
	logLevel := fs.String("log-level", "", "debug | info | warn | error (default info)")
	nopInterval := fs.Duration("nop-interval", 0, "ping idle initiators with NOP-In after this long (0: config or 10s; negative disables)")
	nopTimeout := fs.Duration("nop-timeout", 0, "drop a connection whose NOP-In ping is unanswered this long (default 30s)")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGTERM, how long to wait for in-flight commands")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}

	cfg := &Config{}
	if *configPath != "" {
		var err error
		if cfg, err = loadConfig(*configPath); err != nil {
			return err
		}
	}
	if len(portals) > 0 {
		cfg.Portals = portals
	}
	if len(cfg.Portals) == 0 {
		cfg.Portals = []string{defaultPortal}
	}
	if len(luns) > 0 || len(cfg.Targets) == 0 {
		if len(luns) == 0 {
			luns = multiFlag{defaultLUN}
		}
		t := TargetConf{Name: *targetName}
		for _, l := range luns {
			t.LUNs = append(t.LUNs, LUNConf{Backing: l})
		}
		cfg.Targets = []TargetConf{t}
		if err := cfg.validate(); err != nil {
			return err
		}
	}
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	var level slog.Level
	if cfg.LogLevel != "" {
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *nopInterval != 0 {
		cfg.NopInterval = *nopInterval
	}
	if cfg.NopInterval == 0 {
		cfg.NopInterval = 10 * time.Second
	}
	if cfg.NopInterval < 0 {
		cfg.NopInterval = 0
	}
	if *nopTimeout != 0 {
		cfg.NopTimeout = *nopTimeout
	}

	srv := target.NewServer(target.Config{
		Log:           log,
		Portals:       cfg.Portals,
		NopInterval:   cfg.NopInterval,
		NopTimeout:    cfg.NopTimeout,
		DiscoveryCHAP: chap(cfg.DiscoveryCHAP),
	})
	for _, tc := range cfg.Targets {
		t, err := buildTarget(tc, log)
		if err != nil {
			return err
		}
		if err := srv.AddTarget(t); err != nil {
			return err
		}
	}

	var listeners []net.Listener
	for _, p := range cfg.Portals {
		l, err := listen(p)
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			_ = srv.Shutdown(context.Background())
			return err
		}
		listeners = append(listeners, l)
		log.Info("listening", "portal", l.Addr().String())
	}
	for _, t := range cfg.Targets {
		log.Info("target ready", "target", t.Name, "luns", len(t.LUNs))
	}

	errc := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(l); err != nil && !errors.Is(err, target.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var serveErr error
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String(), "timeout", drain.String())
	case serveErr = <-errc:
		log.Error("portal failed", "err", serveErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	err := srv.Shutdown(ctx)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return serveErr
}

func listen(portal string) (net.Listener, error) {
	if strings.HasPrefix(portal, "xdp:") {
		return listenXDP(portal)
	}
	l, err := net.Listen("tcp", portal)
	if err != nil {
		return nil, fmt.Errorf("portal %s: %w", portal, err)
	}
	return l, nil
}

func chap(c *CHAP) *login.CHAPSecret {
	if c == nil {
		return nil
	}
	return &login.CHAPSecret{User: c.User, Secret: c.Secret}
}

func buildTarget(tc TargetConf, log *slog.Logger) (*target.Target, error) {
	dev := scsi.NewTarget(log.With("target", tc.Name))
	next := uint64(0)
	for i, lc := range tc.LUNs {
		num := next
		if lc.Number != nil {
			num = *lc.Number
		}
		next = num + 1
		be, err := backstore.Open(lc.Backing)
		if err != nil {
			_ = dev.Close()
			return nil, fmt.Errorf("target %s lun %d: %w", tc.Name, i, err)
		}
		wb := strings.HasPrefix(lc.Backing, "ram:")
		if lc.WriteBack != nil {
			wb = *lc.WriteBack
		}
		err = dev.AddLU(num, scsi.LUConfig{Backend: be, BlockSize: lc.BlockSize, ReadOnly: lc.ReadOnly,
			WriteBack: wb, Serial: lc.Serial})
		if err != nil {
			_ = be.Close()
			_ = dev.Close()
			return nil, fmt.Errorf("target %s lun %d: %w", tc.Name, num, err)
		}
	}
	t := &target.Target{Name: tc.Name, Alias: tc.Alias, SCSI: dev, CHAP: chap(tc.CHAP), MutualCHAP: chap(tc.MutualCHAP)}
	for _, a := range tc.ACL {
		t.ACL = append(t.ACL, target.ACLEntry{InitiatorName: a.Initiator, CHAP: chap(a.CHAP)})
	}
	return t, nil
}
