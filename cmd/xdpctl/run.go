package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/xtgt/xtgt/bpf"
)

const usage = `usage: xdpctl [-n NETNS] [--pin-root DIR] COMMAND ...
commands:
  attach --dev IFACE [--mode native|generic|auto] [--port N ...] [--addr IP ...] [--force]
  detach --dev IFACE
  status [--dev IFACE] [-j]
  rule add|del --dev IFACE --addr IP|any --port N
  stats --dev IFACE [--watch 1s] [--count N]
`

// run is the whole tool; tests call it directly.
func run(args []string, stdout, stderr io.Writer) int {
	g := flag.NewFlagSet("xdpctl", flag.ContinueOnError)
	g.SetOutput(stderr)
	g.Usage = func() { fmt.Fprint(stderr, usage) }
	nsName := g.String("n", "", "network namespace name (as in ip -n)")
	root := g.String("pin-root", bpf.DefaultPinRoot, "bpffs directory of the pins")
	verbose := g.Bool("v", false, "log progress to stderr")
	if err := g.Parse(args); err != nil {
		return 2
	}
	if g.NArg() == 0 {
		g.Usage()
		return 2
	}
	lvl := slog.LevelWarn
	if *verbose {
		lvl = slog.LevelDebug
	}
	c := &cli{out: stdout, errw: stderr, root: *root,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))}

	// Everything below runs on one OS thread, inside the namespace if any.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if *nsName != "" {
		restore, err := enterNetns(*nsName)
		if err != nil {
			fmt.Fprintf(stderr, "xdpctl: %v\n", err)
			return 1
		}
		defer restore()
	}
	cmd, rest := g.Arg(0), g.Args()[1:]
	var err error
	switch cmd {
	case "attach":
		err = c.attach(rest)
	case "detach":
		err = c.detach(rest)
	case "status":
		err = c.status(rest)
	case "rule":
		err = c.rule(rest)
	case "stats":
		err = c.stats(rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "xdpctl: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(stderr, "xdpctl: %v\n", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func enterNetns(name string) (func(), error) {
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("current network namespace: %w", err)
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		orig.Close()
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		orig.Close()
		return nil, fmt.Errorf("enter network namespace %s: %w", name, err)
	}
	return func() {
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: the runtime drops it when the
			// goroutine exits.
			runtime.LockOSThread()
		}
		orig.Close()
	}, nil
}

type cli struct {
	out, errw io.Writer
	root      string
	log       *slog.Logger
}

func (c *cli) opts() bpf.Options { return bpf.Options{PinRoot: c.root, Logger: c.log} }

func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("xdpctl "+name, flag.ContinueOnError)
	fs.SetOutput(c.errw)
	return fs
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, strings.Split(s, ",")...); return nil }

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}

// rulesFrom is the cross product of addresses (none: any) and ports.
func rulesFrom(addrs, ports []string) ([]bpf.Rule, error) {
	if len(addrs) == 0 {
		addrs = []string{"any"}
	}
	var rs []bpf.Rule
	for _, a := range addrs {
		addr, err := bpf.ParseAddr(a)
		if err != nil {
			return nil, err
		}
		for _, p := range ports {
			port, err := parsePort(p)
			if err != nil {
				return nil, err
			}
			rs = append(rs, bpf.Rule{Addr: addr, Port: port})
		}
	}
	return rs, nil
}

func needDev(dev string) error {
	if dev == "" {
		return fmt.Errorf("--dev IFACE is required")
	}
	return nil
}

func (c *cli) attach(args []string) error {
	fs := c.flags("attach")
	dev := fs.String("dev", "", "interface")
	mode := fs.String("mode", "auto", "native, generic or auto")
	force := fs.Bool("force", false, "replace a foreign XDP program")
	var ports, addrs listFlag
	fs.Var(&ports, "port", "steered TCP port (repeatable)")
	fs.Var(&addrs, "addr", "steered destination address or any (repeatable)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := needDev(*dev); err != nil {
		return err
	}
	m, err := bpf.ParseMode(*mode)
	if err != nil {
		return err
	}
	if len(addrs) > 0 && len(ports) == 0 {
		return fmt.Errorf("--addr needs at least one --port")
	}
	rules, err := rulesFrom(addrs, ports)
	if err != nil {
		return err
	}
	o := c.opts()
	o.Mode, o.Force, o.Rules = m, *force, rules
	s, err := bpf.Attach(*dev, o)
	if err != nil {
		return err
	}
	defer s.Close()
	if s.Attached() {
		fmt.Fprintf(c.out, "attached to %s (%s mode), pinned in %s\n", *dev, s.Mode(), s.PinDir())
	} else {
		fmt.Fprintf(c.out, "already attached to %s (%s mode), pinned in %s\n", *dev, s.Mode(), s.PinDir())
	}
	return nil
}

func (c *cli) detach(args []string) error {
	fs := c.flags("detach")
	dev := fs.String("dev", "", "interface")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := needDev(*dev); err != nil {
		return err
	}
	if err := bpf.Detach(*dev, c.opts()); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "detached from %s\n", *dev)
	return nil
}

func (c *cli) status(args []string) error {
	fs := c.flags("status")
	dev := fs.String("dev", "", "interface (default: all attached)")
	js := fs.Bool("j", false, "JSON output")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var devs []string
	if *dev != "" {
		devs = []string{*dev}
	} else {
		links, err := netlink.LinkList()
		if err != nil {
			return fmt.Errorf("list devices: %w", err)
		}
		for _, l := range links {
			devs = append(devs, l.Attrs().Name)
		}
	}
	all := []bpf.Status{}
	for _, d := range devs {
		s, err := bpf.Open(d, c.opts())
		if err != nil {
			if *dev == "" && (errors.Is(err, bpf.ErrNotAttached) || errors.Is(err, bpf.ErrNoDevice)) {
				continue
			}
			return err
		}
		st, err := s.Status()
		s.Close()
		if err != nil {
			return err
		}
		all = append(all, st)
	}
	if *js {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		if *dev != "" {
			return enc.Encode(all[0])
		}
		return enc.Encode(all)
	}
	if len(all) == 0 {
		fmt.Fprintln(c.out, "no interface has the xtgt classifier attached")
	}
	for _, st := range all {
		printStatus(c.out, st)
	}
	return nil
}

func printStatus(w io.Writer, st bpf.Status) {
	fmt.Fprintf(w, "%s: ifindex %d, program id %d, %s mode, pins %s\n", st.Dev, st.Ifindex, st.ProgramID, st.Mode, st.PinDir)
	v := st.Verdicts
	fmt.Fprintf(w, "  verdicts: passed %d, redirected %d, no-socket %d, malformed %d\n", v.Passed, v.Redirected, v.NoSocket, v.Malformed)
	if len(st.Rules) == 0 {
		fmt.Fprintln(w, "  rules: none")
	}
	for _, r := range st.Rules {
		fmt.Fprintf(w, "  rule %-24s packets %d, bytes %d\n", r.Match, r.Packets, r.Bytes)
	}
	if len(st.Queues) == 0 {
		fmt.Fprintln(w, "  queues: none registered")
	}
	for _, q := range st.Queues {
		state := "alive"
		if !q.Alive {
			state = "gone"
		}
		fmt.Fprintf(w, "  queue %d: registered by pid %d (%s)\n", q.ID, q.PID, state)
	}
}

func (c *cli) rule(args []string) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "del") {
		return fmt.Errorf("rule add|del --dev IFACE --addr IP|any --port N")
	}
	op := args[0]
	fs := c.flags("rule " + op)
	dev := fs.String("dev", "", "interface")
	addr := fs.String("addr", "any", "destination address or any")
	port := fs.String("port", "", "destination TCP port")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if err := needDev(*dev); err != nil {
		return err
	}
	rs, err := rulesFrom([]string{*addr}, []string{*port})
	if err != nil {
		return err
	}
	s, err := bpf.Open(*dev, c.opts())
	if err != nil {
		return err
	}
	defer s.Close()
	if op == "add" {
		return s.AddRule(rs[0])
	}
	return s.DelRule(rs[0])
}

func (c *cli) stats(args []string) error {
	fs := c.flags("stats")
	dev := fs.String("dev", "", "interface")
	watch := fs.Duration("watch", 0, "print rates every interval until interrupted")
	count := fs.Int("count", 0, "with --watch: stop after N intervals (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := needDev(*dev); err != nil {
		return err
	}
	s, err := bpf.Open(*dev, c.opts())
	if err != nil {
		return err
	}
	defer s.Close()
	prev, err := s.Verdicts()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "passed %d redirected %d no-socket %d malformed %d\n", prev.Passed, prev.Redirected, prev.NoSocket, prev.Malformed)
	if *watch <= 0 {
		return nil
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	tick := time.NewTicker(*watch)
	defer tick.Stop()
	last := time.Now()
	for i := 0; *count == 0 || i < *count; i++ {
		select {
		case <-sig:
			return nil
		case now := <-tick.C:
			cur, err := s.Verdicts()
			if err != nil {
				return err
			}
			sec := now.Sub(last).Seconds()
			rate := func(a, b uint64) float64 { return float64(a-b) / sec }
			fmt.Fprintf(c.out, "pps: passed %.0f redirected %.0f no-socket %.0f malformed %.0f\n",
				rate(cur.Passed, prev.Passed), rate(cur.Redirected, prev.Redirected),
				rate(cur.NoSocket, prev.NoSocket), rate(cur.Malformed, prev.Malformed))
			prev, last = cur, now
		}
	}
	return nil
}
