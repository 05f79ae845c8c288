// Command conformance runs libiscsi's iscsi-test-cu against xtgtd: it starts the daemon on a loopback port,
// checks iscsi-inq, iscsi-ls and iscsi-readcapacity16, runs every SCSI.* and iSCSI.* suite under its own
// timeout (restarting the daemon if a suite kills it), and writes a per-suite table with every failure and skip.
// It exits non-zero when any test fails or errors, or fewer than -min-pass tests pass.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/xtgt/xtgt/tools/internal/tgt"
)

type result struct {
	suite, test, outcome, reason string // outcome: passed | skipped | failed | error
}

var (
	testRe    = regexp.MustCompile(`(?m)^\s*Test: (\S+) \.\.\.`)
	outcomeRe = regexp.MustCompile(`(?m)^(passed|FAILED)`)
	skipRe    = regexp.MustCompile(`\[SKIPPED\]\s*([^\n]*)`)
	suiteRe   = regexp.MustCompile(`^(SCSI|iSCSI)\.[A-Za-z0-9]+$`)
)

func main() {
	xtgtd := flag.String("xtgtd", "bin/xtgtd", "xtgtd binary")
	port := flag.Int("port", 0, "loopback port for the target (0: a free one)")
	port2 := flag.Int("port2", 0, "second portal port for the MultipathIO family's second URL (0: a free one; -1: none)")
	out := flag.String("out", "tools/out/conformance", "directory for logs and the summary")
	minPass := flag.Int("min-pass", 205, "fail unless at least this many tests pass")
	suiteTimeout := flag.Duration("suite-timeout", 5*time.Minute, "time limit per suite")
	only := flag.String("suites", "", "comma-separated suites (default: every SCSI.* and iSCSI.* suite)")
	extra := flag.String("daemon-args", "", "extra xtgtd arguments")
	flag.StringVar(&netns.target, "target-netns", "", "run xtgtd in this network namespace (/run/netns/NAME)")
	flag.StringVar(&netns.client, "client-netns", "", "run the initiators in this network namespace")
	flag.StringVar(&netns.host, "host", "127.0.0.1", "address xtgtd listens on and initiators connect to")
	flag.StringVar(&netns.xdpIface, "xdp-iface", "", "serve through the AF_XDP portal xdp:IFACE:HOST:PORT instead of kernel TCP")
	againstTGT := flag.Bool("tgt", false, "run the suites against Debian's tgtd instead (baseline for docs/CONFORMANCE.md)")
	flag.Parse()
	if *againstTGT {
		suites, err := listSuites()
		if err == nil {
			_ = os.MkdirAll(*out, 0o755)
			err = runTGT(suites, *out, *suiteTimeout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "conformance:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*xtgtd, *port, *port2, *out, *minPass, *suiteTimeout, *only, *extra); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

type daemon struct {
	cmd  *exec.Cmd
	args []string
	log  *os.File
	done chan error
}

func startDaemon(bin string, args []string, logPath string, port int) (*daemon, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	d := &daemon{cmd: nsCommand(context.Background(), netns.target, bin, args...), args: args, log: f, done: make(chan error, 1)}
	d.cmd.Stdout, d.cmd.Stderr = f, f
	if err := d.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if reachable(port) {
			return d, nil
		}
		select {
		case err := <-d.done:
			return nil, fmt.Errorf("xtgtd exited at start: %v (see %s)", err, logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.stop()
	return nil, fmt.Errorf("xtgtd did not listen on port %d within 10s", port)
}

func (d *daemon) alive() bool {
	select {
	case err := <-d.done:
		d.done <- err
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits (the daemon drains), then kills it.
func (d *daemon) stop() error {
	defer d.log.Close()
	if !d.alive() {
		return errors.New("daemon had exited")
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.done:
		return err
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		return errors.New("daemon did not exit within 20s of SIGINT")
	}
}

func listSuites() ([]string, error) {
	out, err := exec.Command("iscsi-test-cu", "--list").Output()
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("iscsi-test-cu --list: %w", err)
	}
	var s []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); suiteRe.MatchString(l) {
			s = append(s, l)
		}
	}
	return s, nil
}

func parse(suite, text string) []result {
	var rs []result
	locs := testRe.FindAllStringSubmatchIndex(text, -1)
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if j := strings.Index(text[loc[1]:end], "Run Summary"); j >= 0 {
			end = loc[1] + j
		}
		seg := text[loc[1]:end]
		r := result{suite: suite, test: text[loc[2]:loc[3]]}
		m := outcomeRe.FindStringIndex(seg)
		switch {
		case m == nil:
			r.outcome, r.reason = "error", "no result (suite interrupted)"
		case seg[m[0]:m[1]] == "FAILED":
			r.outcome = "failed"
			r.reason = strings.Join(strings.Fields(firstLines(seg[m[1]:], 3)), " ")
		default:
			r.outcome = "passed"
			if sm := skipRe.FindStringSubmatch(seg[:m[0]]); sm != nil {
				r.outcome, r.reason = "skipped", strings.TrimSpace(sm[1])
			}
		}
		rs = append(rs, r)
	}
	return rs
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " ")
}

func checkTool(name string, want string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := nsCommand(ctx, netns.client, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w\n%s", name, args, err, out)
	}
	if !bytes.Contains(out, []byte(want)) {
		return fmt.Errorf("%s %v: output lacks %q:\n%s", name, args, want, out)
	}
	fmt.Printf("ok   %s %s\n", name, strings.Join(args, " "))
	return nil
}

// freePort returns a loopback TCP port that is free now.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 13260
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(bin string, port, port2 int, out string, minPass int, suiteTimeout time.Duration, only, extra string) error {
	if _, err := exec.LookPath("iscsi-test-cu"); err != nil {
		return fmt.Errorf("iscsi-test-cu not installed (apt-get install libiscsi-bin): %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	suites, err := listSuites()
	if err != nil {
		return err
	}
	if only != "" {
		suites = strings.Split(only, ",")
	}
	const iqn = mainIQN
	if port == 0 {
		port = freePort()
	}
	if port2 == 0 {
		port2 = freePort()
	}
	host := netns.host
	portal := net.JoinHostPort(host, fmt.Sprint(port))
	if netns.xdpIface != "" {
		portal = "xdp:" + netns.xdpIface + ":" + portal
	}
	if netns.target != "" || netns.xdpIface != "" {
		port2 = -1 // one portal: the one under test
	}
	args := []string{"--portal", portal, "--lun", "ram:1G", "--log-level", "info"}
	withProps := !overridesTargets(extra)
	if withProps {
		cfgPath, err := writeConfig(out)
		if err != nil {
			return err
		}
		args = []string{"--portal", portal, "--config", cfgPath, "--state-dir", filepath.Join(out, "xtgt-state"),
			"--log-level", "info"}
	}
	if port2 > 0 {
		args = append(args, "--portal", net.JoinHostPort(host, fmt.Sprint(port2)))
	}
	args = append(args, strings.Fields(extra)...)
	logPath := filepath.Join(out, "xtgtd.log")
	_ = os.Remove(logPath)
	d, err := startDaemon(bin, args, logPath, port)
	if err != nil {
		return err
	}
	defer func() {
		if d != nil {
			d.stop()
		}
	}()
	url := fmt.Sprintf("iscsi://%s/%s/0", net.JoinHostPort(host, fmt.Sprint(port)), iqn)
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"iscsi-inq", "Vendor:XTGT", []string{url}},
		{"iscsi-ls", iqn, []string{"-s", "iscsi://" + net.JoinHostPort(host, fmt.Sprint(port))}},
		{"iscsi-readcapacity16", "Total size:1073741824", []string{url}},
	} {
		if err := checkTool(c.name, c.want, c.args...); err != nil {
			return err
		}
	}

	if err := qemuCheck(url, out); err != nil {
		return err
	}
	if netns.target == "" {
		if err := chapChecks(bin, freePort(), out); err != nil {
			return err
		}
	}

	var mpURL string
	if port2 > 0 {
		mpURL = fmt.Sprintf("iscsi://%s/%s/0", net.JoinHostPort(host, fmt.Sprint(port2)), iqn)
	}
	var extraBase string
	if withProps {
		extraBase = fmt.Sprintf("iscsi://%s/%s", net.JoinHostPort(host, fmt.Sprint(port)), extraIQN)
	}
	urls := func(s string) string { return urlFor(s, url, extraBase) }
	all, err := runSuites(suites, urls, mpURL, out, suiteTimeout, d.alive, func() error {
		d, err = startDaemon(bin, args, logPath, port)
		return err
	})
	if err != nil {
		return err
	}
	if err := d.stop(); err != nil {
		all = append(all, result{suite: "(daemon)", test: "shutdown", outcome: "error", reason: err.Error()})
	}
	d = nil
	return report(all, out, minPass)
}

// report writes the summary and fails on any failure or error, or too few passes.
func report(all []result, out string, minPass int) error {
	tot := count(all)
	md := summary(all)
	if err := os.WriteFile(filepath.Join(out, "summary.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	fmt.Printf("\nerrors (suite timeouts, target exits): %d; minimum passed: %d\n", tot["error"], minPass)
	// The plain closing line CI reads: failures and errors both count as failed.
	fmt.Printf("conformance: %d passed, %d failed, %d skipped\n", tot["passed"], tot["failed"]+tot["error"], tot["skipped"])
	if tot["failed"] > 0 || tot["error"] > 0 || tot["passed"] < minPass {
		return fmt.Errorf("%d failed, %d errors, %d passed (need %d)", tot["failed"], tot["error"], tot["passed"], minPass)
	}
	return nil
}

// runSuites runs each suite against url(suite) (and mpURL as the second path of MultipathIO), restarting the target
// through restart when alive says it died.
func runSuites(suites []string, url func(suite string) string, mpURL, out string, timeout time.Duration, alive func() bool, restart func() error) ([]result, error) {
	var all []result
	for _, s := range suites {
		if !alive() {
			if err := restart(); err != nil {
				return nil, err
			}
		}
		cuArgs := []string{"--dataloss", "--allow-sanitize", "-t", s, url(s)}
		if strings.HasSuffix(s, "MultipathIO") && mpURL != "" {
			cuArgs = append(cuArgs, mpURL)
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		cmd := nsCommand(ctx, netns.client, "iscsi-test-cu", cuArgs...)
		cmd.WaitDelay = 5 * time.Second
		text, _ := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		_ = os.WriteFile(filepath.Join(out, s+".log"), text, 0o644)
		rs := parse(s, string(text))
		if timedOut {
			rs = append(rs, result{suite: s, test: "(suite)", outcome: "error", reason: "suite timed out"})
		}
		if !alive() {
			rs = append(rs, result{suite: s, test: "(daemon)", outcome: "error", reason: "target exited during the suite"})
		}
		if len(rs) == 0 {
			rs = append(rs, result{suite: s, test: "(suite)", outcome: "error", reason: "no tests ran"})
		}
		c := count(rs)
		fmt.Printf("%-40s passed %3d skipped %3d failed %3d error %d\n", s, c["passed"], c["skipped"], c["failed"], c["error"])
		all = append(all, rs...)
	}
	return all, nil
}

// runTGT runs the same suites against Debian's tgtd for the side-by-side table (never fails on tgt's results).
func runTGT(suites []string, out string, timeout time.Duration) error {
	port := freePort()
	start := func() (*tgt.Daemon, error) { return tgt.Start(fmt.Sprintf("127.0.0.1:%d", port), 13298, 1<<30) }
	d, err := start()
	if err != nil {
		return err
	}
	defer func() { d.Stop() }()
	all, err := runSuites(suites, func(string) string { return d.URL() }, "", out, timeout, d.Alive, func() error {
		d.Stop()
		d, err = start()
		return err
	})
	if err != nil {
		return err
	}
	_ = report(all, out, 0)
	return nil
}

func count(rs []result) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[r.outcome]++
	}
	return m
}

func summary(all []result) string {
	var b strings.Builder
	bySuite := map[string][]result{}
	var order []string
	for _, r := range all {
		if _, ok := bySuite[r.suite]; !ok {
			order = append(order, r.suite)
		}
		bySuite[r.suite] = append(bySuite[r.suite], r)
	}
	b.WriteString("| suite | passed | skipped | failed | error |\n|---|---|---|---|---|\n")
	for _, s := range order {
		c := count(bySuite[s])
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", s, c["passed"], c["skipped"], c["failed"], c["error"])
	}
	t := count(all)
	fmt.Fprintf(&b, "| **total** | **%d** | **%d** | **%d** | **%d** |\n", t["passed"], t["skipped"], t["failed"], t["error"])
	for _, kind := range []string{"failed", "error", "skipped"} {
		var lines []string
		for _, r := range all {
			if r.outcome == kind {
				lines = append(lines, fmt.Sprintf("- %s.%s: %s", r.suite, r.test, r.reason))
			}
		}
		if len(lines) == 0 {
			continue
		}
		sort.Strings(lines)
		fmt.Fprintf(&b, "\n%s:\n%s\n", kind, strings.Join(lines, "\n"))
	}
	return b.String()
}
