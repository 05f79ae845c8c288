// Command xtgtd is the xtgt iSCSI target daemon. With no arguments it serves target
// iqn.2026-11.dev.xtgt:default with LUN 0 a 1 GiB RAM disk on 127.0.0.1:3260 over kernel TCP.
// With --config it serves a YAML configuration, which it re-reads on SIGHUP; a local admin API on a unix
// socket lists targets and sessions and adds or removes LUNs at run time (docs/ADMIN.md).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/xtgt/xtgt/iscsi/login"
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

// parseFlags turns the command line into options and the shutdown drain timeout.
func parseFlags(args []string) (options, time.Duration, error) {
	fs := flag.NewFlagSet("xtgtd", flag.ContinueOnError)
	var portals, luns multiFlag
	fs.Var(&portals, "portal", "listen address HOST:PORT (repeatable; default "+defaultPortal+")")
	fs.Var(&luns, "lun", "logical unit ram:SIZE | file:PATH[:SIZE] | block:PATH (repeatable, LUN 0, 1, ...)")
	targetName := fs.String("target", defaultTarget, "target IQN (when not using --config)")
	configPath := fs.String("config", "", "YAML configuration file (re-read on SIGHUP)")
	logLevel := fs.String("log-level", "", "debug | info | warn | error (default info)")
	nopInterval := fs.Duration("nop-interval", 0, "ping idle initiators with NOP-In after this long (0: config or 30s; negative disables)")
	nopTimeout := fs.Duration("nop-timeout", 0, "drop a connection whose NOP-In ping is unanswered while it stays silent this long (default 60s)")
	drain := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGTERM, how long to wait for in-flight commands")
	adminSocket := fs.String("admin-socket", defaultAdminSocket(), "admin API unix socket (\"\" disables)")
	stateDirFlag := fs.String("state-dir", "", "directory for persistent reservation state (APTPL); default xtgt-state beside --config")
	if err := fs.Parse(args); err != nil {
		return options{}, 0, err
	}
	if fs.NArg() > 0 {
		return options{}, 0, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	o := options{configPath: *configPath, portals: portals, luns: luns, targetName: *targetName,
		logLevel: *logLevel, nopInterval: *nopInterval, nopTimeout: *nopTimeout, adminSocket: *adminSocket,
		stateDir: *stateDirFlag}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "admin-socket" {
			o.adminStrict = true
		}
	})
	return o, *drain, nil
}

func run(args []string) error {
	o, drain, err := parseFlags(args)
	if err != nil {
		return err
	}
	d, err := startDaemon(o, func(level *slog.LevelVar) slog.Handler {
		return slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	})
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sig)
	return d.wait(sig, drain)
}

// wait serves until a terminating signal or a portal failure, re-reading the configuration on SIGHUP, and
// then shuts down within drain.
func (d *daemon) wait(sig <-chan os.Signal, drain time.Duration) error {
	var serveErr error
loop:
	for {
		select {
		case s := <-sig:
			if s == syscall.SIGHUP {
				if _, err := d.reload(); err != nil {
					d.log.Error("reload failed; keeping the running configuration", "err", err)
				}
				continue
			}
			d.log.Info("shutting down", "signal", s.String(), "timeout", drain.String())
			break loop
		case serveErr = <-d.errc:
			d.log.Error("portal failed", "err", serveErr)
			break loop
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := d.shutdown(ctx); err != nil {
		return err
	}
	d.log.Info("stopped")
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
