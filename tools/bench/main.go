// Command bench runs xtgtbench against xtgtd and against tgtd (Debian tgt, a RAM-backed LUN in /dev/shm) in the
// same run with the same client, interleaving the two targets case by case, and prints a markdown table with
// the medians of -reps runs, the ratio, and each target's CPU per I/O or per GB (utime+stime of the daemon).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xtgt/xtgt/tools/internal/tgt"
)

type result struct {
	IOPS      float64 `json:"iops"`
	MBps      float64 `json:"mb_per_s"`
	P50       float64 `json:"lat_p50_us"`
	P99       float64 `json:"lat_p99_us"`
	CPUPerGB  float64 `json:"target_cpu_s_per_gb"`
	CPUPerIO  float64 `json:"target_cpu_us_per_io"`
	Errors    uint64  `json:"errors"`
	FirstErr  string  `json:"first_error"`
	Mismatchs uint64  `json:"mismatches"`
}

type benchCase struct {
	name, op, bs string
	qd           int
	small        bool // report IOPS and µs/IO; else MB/s and s/GB
}

var cases = []benchCase{
	{"4K rand read QD1", "randread", "4k", 1, true},
	{"4K rand read QD32", "randread", "4k", 32, true},
	{"4K rand write QD32", "randwrite", "4k", 32, true},
	{"64K seq read QD16", "read", "64k", 16, false},
	{"1M seq read QD8", "read", "1m", 8, false},
	{"64K seq write QD16", "write", "64k", 16, false},
	{"1M seq write QD8", "write", "1m", 8, false},
}

type target struct {
	name string
	url  string
	pid  int
	stop func()
}

func main() {
	bin := flag.String("bin", "bin", "directory with xtgtd and xtgtbench")
	dur := flag.Duration("time", 10*time.Second, "duration of each run")
	reps := flag.Int("reps", 3, "runs per case and target (median reported)")
	only := flag.String("cases", "", "comma-separated case names (default all)")
	noTGT := flag.Bool("no-tgt", false, "measure xtgtd only")
	flag.Parse()
	if err := run(*bin, *dur, *reps, *only, *noTGT); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func waitPort(addr string) error {
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: nothing listening after 5s", addr)
}

func startXtgtd(bin string) (*target, error) {
	const addr = "127.0.0.1:13290"
	cmd := exec.Command(filepath.Join(bin, "xtgtd"), "--portal", addr, "--lun", "ram:1G", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitPort(addr); err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	return &target{name: "xtgtd", url: "iscsi://" + addr + "/iqn.2026-11.dev.xtgt:default/0", pid: cmd.Process.Pid, stop: stop}, nil
}

func startTGT() (*target, func(), error) {
	d, err := tgt.Start("127.0.0.1:13291", 13291, 1<<30)
	if err != nil {
		return nil, nil, err
	}
	return &target{name: "tgt", url: d.URL(), pid: d.PID}, d.Stop, nil
}

func xtgtbench(bin string, t *target, op, bs string, qd int, dur time.Duration) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dur+60*time.Second)
	defer cancel()
	args := []string{"iscsi", "--url", t.url, "--op", op, "--bs", bs, "--qd", strconv.Itoa(qd),
		"--time", dur.String(), "--pid", strconv.Itoa(t.pid), "-j"}
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "xtgtbench"), args...).Output()
	var r result
	if err != nil {
		return r, fmt.Errorf("xtgtbench %s: %w", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("xtgtbench output: %w: %s", err, out)
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("xtgtbench against %s: %d I/O errors (%s)", t.name, r.Errors, r.FirstErr)
	}
	return r, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func span(v []float64) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf("%s–%s", num(s[0]), num(s[len(s)-1]))
}

func num(f float64) string {
	switch {
	case f >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	default:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
}

func run(bin string, dur time.Duration, reps int, only string, noTGT bool) error {
	x, err := startXtgtd(bin)
	if err != nil {
		return err
	}
	defer x.stop()
	targets := []*target{x}
	if !noTGT {
		tg, cleanup, err := startTGT()
		if err != nil {
			return err
		}
		defer cleanup()
		targets = append(targets, tg)
	}
	// Fill both LUNs so that reads return written data, not holes.
	for _, t := range targets {
		if _, err := xtgtbench(bin, t, "write", "1m", 8, 3*time.Second); err != nil {
			return fmt.Errorf("prefill %s: %w", t.name, err)
		}
	}
	want := map[string]bool{}
	for _, c := range strings.Split(only, ",") {
		if c != "" {
			want[c] = true
		}
	}
	type key struct{ c, t string }
	metric := map[key][]float64{}
	cpu := map[key][]float64{}
	p99 := map[key][]float64{}
	for _, c := range cases {
		if len(want) > 0 && !want[c.name] {
			continue
		}
		for rep := 0; rep < reps; rep++ {
			order := targets
			if rep%2 == 1 && len(targets) == 2 {
				order = []*target{targets[1], targets[0]}
			}
			for _, t := range order {
				r, err := xtgtbench(bin, t, c.op, c.bs, c.qd, dur)
				if err != nil {
					return err
				}
				k := key{c.name, t.name}
				if c.small {
					metric[k] = append(metric[k], r.IOPS)
					cpu[k] = append(cpu[k], r.CPUPerIO)
				} else {
					metric[k] = append(metric[k], r.MBps)
					cpu[k] = append(cpu[k], r.CPUPerGB)
				}
				p99[k] = append(p99[k], r.P99)
				fmt.Fprintf(os.Stderr, "%-20s %-6s rep %d: iops %.0f MB/s %.0f p99 %.0fµs cpu %.2f\n", c.name, t.name, rep,
					r.IOPS, r.MBps, r.P99, cpu[k][len(cpu[k])-1])
			}
		}
	}
	fmt.Printf("| case | xtgtd | tgt | xtgtd/tgt | xtgtd CPU | tgt CPU | p99 µs xtgtd / tgt |\n|---|---|---|---|---|---|---|\n")
	for _, c := range cases {
		kx, kt := key{c.name, "xtgtd"}, key{c.name, "tgt"}
		if len(metric[kx]) == 0 {
			continue
		}
		unit, cunit := "IOPS", "µs/IO"
		if !c.small {
			unit, cunit = "MB/s", "s/GB"
		}
		row := fmt.Sprintf("| %s (%s) | %s (%s) |", c.name, unit, num(median(metric[kx])), span(metric[kx]))
		if len(metric[kt]) > 0 {
			row += fmt.Sprintf(" %s (%s) | **%.2f×** | %s %s | %s %s | %s / %s |", num(median(metric[kt])), span(metric[kt]),
				median(metric[kx])/median(metric[kt]), num(median(cpu[kx])), cunit, num(median(cpu[kt])), cunit,
				num(median(p99[kx])), num(median(p99[kt])))
		} else {
			row += fmt.Sprintf(" – | – | %s %s | – | %s / – |", num(median(cpu[kx])), cunit, num(median(p99[kx])))
		}
		fmt.Println(row)
	}
	return nil
}
