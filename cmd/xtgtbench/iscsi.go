package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtgt/xtgt/iscsi/backstore"
	"github.com/xtgt/xtgt/iscsi/initiator"
)

func init() {
	register("iscsi", "drive an iSCSI target with the Go initiator (IOPS, MB/s, latency, target CPU)", runISCSI)
}

type iscsiConfig struct {
	url        string
	op         string
	bs         int
	qd         int
	sessions   int
	dur        time.Duration
	verify     bool
	pid        int
	digests    bool
	json       bool
	span       int64
	noImm      bool
	initialR2T bool
}

// iscsiReport is the result printed as text or JSON.
type iscsiReport struct {
	Op         string  `json:"op"`
	BlockSize  int     `json:"bs"`
	QueueDepth int     `json:"qd"`
	Sessions   int     `json:"sessions"`
	Seconds    float64 `json:"seconds"`
	IOs        uint64  `json:"ios"`
	Bytes      uint64  `json:"bytes"`
	IOPS       float64 `json:"iops"`
	MBps       float64 `json:"mb_per_s"`
	LatMeanUs  float64 `json:"lat_mean_us"`
	LatP50Us   float64 `json:"lat_p50_us"`
	LatP99Us   float64 `json:"lat_p99_us"`
	LatP999Us  float64 `json:"lat_p999_us"`
	LatMaxUs   float64 `json:"lat_max_us"`
	Digests    bool    `json:"digests"`
	// Target CPU, when --pid is given.
	TargetCPUSeconds float64 `json:"target_cpu_s,omitempty"`
	CPUSecondsPerGB  float64 `json:"target_cpu_s_per_gb,omitempty"`
	CPUMicrosPerIO   float64 `json:"target_cpu_us_per_io,omitempty"`
	// Whole-machine busy CPU (all processes, softirq included): on a veth test bed the
	// receiver's network stack often runs in the sender's context, so this is the fair total.
	HostCPUSeconds      float64 `json:"host_cpu_s,omitempty"`
	HostCPUSecondsPerGB float64 `json:"host_cpu_s_per_gb,omitempty"`
	// Verification, when --verify is given.
	Verified   bool   `json:"verified,omitempty"`
	Mismatches uint64 `json:"mismatches"`
	Errors     uint64 `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
}

func runISCSI(args []string) error {
	var c iscsiConfig
	fs := flag.NewFlagSet("xtgtbench iscsi", flag.ContinueOnError)
	fs.StringVar(&c.url, "url", "", "target: iscsi://[user[%password]@]host[:port]/target-iqn/lun")
	fs.StringVar(&c.op, "op", "randread", "workload: read | write | randread | randwrite")
	bs := fs.String("bs", "4k", "I/O size (k, m suffixes)")
	fs.IntVar(&c.qd, "qd", 32, "queue depth per session (outstanding commands)")
	fs.IntVar(&c.sessions, "sessions", 1, "number of sessions")
	fs.DurationVar(&c.dur, "time", 10*time.Second, "run time")
	fs.BoolVar(&c.verify, "verify", false, "fill the span with an LBA-stamped pattern, check every read, read it all back at the end")
	fs.IntVar(&c.pid, "pid", 0, "target process id: report its CPU time (utime+stime, all threads)")
	fs.BoolVar(&c.digests, "digests", false, "offer CRC32C header and data digests")
	fs.BoolVar(&c.json, "j", false, "print JSON")
	span := fs.String("span", "", "LBA range to use, in bytes (k, m, g suffixes); default the whole LUN up to 1 GiB")
	fs.BoolVar(&c.noImm, "no-immediate-data", false, "propose ImmediateData=No")
	fs.BoolVar(&c.initialR2T, "initial-r2t", false, "propose InitialR2T=Yes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.url == "" {
		return errors.New("--url is required")
	}
	n, err := backstore.ParseSize(*bs)
	if err != nil || n <= 0 || n > 16<<20 {
		return fmt.Errorf("bad --bs %q", *bs)
	}
	c.bs = int(n)
	if *span != "" {
		if c.span, err = backstore.ParseSize(*span); err != nil || c.span <= 0 {
			return fmt.Errorf("bad --span %q", *span)
		}
	}
	switch c.op {
	case "read", "write", "randread", "randwrite":
	default:
		return fmt.Errorf("bad --op %q", c.op)
	}
	if c.qd < 1 || c.qd > 4096 || c.sessions < 1 || c.sessions > 256 {
		return errors.New("--qd must be 1..4096 and --sessions 1..256")
	}
	rep, err := benchISCSI(&c)
	if rep != nil {
		if c.json {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			_ = enc.Encode(rep)
		} else {
			printReport(os.Stdout, rep, c.pid != 0)
		}
	}
	if err != nil {
		return err
	}
	if rep.Mismatches > 0 {
		return fmt.Errorf("%d blocks failed verification", rep.Mismatches)
	}
	if rep.Errors > 0 {
		return fmt.Errorf("%d I/O errors, first: %s", rep.Errors, rep.FirstError)
	}
	return nil
}

func printReport(w io.Writer, r *iscsiReport, cpu bool) {
	fmt.Fprintf(w, "op=%s bs=%d qd=%d sessions=%d digests=%v time=%.2fs\n", r.Op, r.BlockSize, r.QueueDepth,
		r.Sessions, r.Digests, r.Seconds)
	fmt.Fprintf(w, "  IOPS %.0f  bandwidth %.1f MB/s  (%d I/Os, %d bytes)\n", r.IOPS, r.MBps, r.IOs, r.Bytes)
	fmt.Fprintf(w, "  latency us: mean %.1f  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", r.LatMeanUs, r.LatP50Us,
		r.LatP99Us, r.LatP999Us, r.LatMaxUs)
	if cpu {
		fmt.Fprintf(w, "  target CPU %.3f s  %.3f CPU-s/GB  %.2f CPU-us/IO\n", r.TargetCPUSeconds, r.CPUSecondsPerGB,
			r.CPUMicrosPerIO)
	}
	if r.HostCPUSeconds > 0 {
		fmt.Fprintf(w, "  host CPU %.3f s  %.3f CPU-s/GB (all processes and softirq)\n", r.HostCPUSeconds, r.HostCPUSecondsPerGB)
	}
	if r.Verified {
		fmt.Fprintf(w, "  verify: %d mismatched blocks\n", r.Mismatches)
	}
	if r.Errors > 0 {
		fmt.Fprintf(w, "  errors: %d (first: %s)\n", r.Errors, r.FirstError)
	}
}

// worker is one queue slot: it owns a buffer and a histogram.
type worker struct {
	sess     *initiator.Session
	lun      uint64
	buf      []byte
	hist     histogram
	rng      uint64
	ios      uint64
	mismatch uint64
	errs     uint64
	firstErr error
}

func (w *worker) next() uint64 {
	// xorshift64*
	w.rng ^= w.rng >> 12
	w.rng ^= w.rng << 25
	w.rng ^= w.rng >> 27
	return w.rng * 2685821657736338717
}

func benchISCSI(c *iscsiConfig) (*iscsiReport, error) {
	u, err := initiator.ParseURL(c.url)
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts := u.Options()
	opts.HeaderDigest, opts.DataDigest = c.digests, c.digests
	opts.NoImmediateData, opts.InitialR2T = c.noImm, c.initialR2T
	opts.MaxTasks = c.qd + 8

	sessions := make([]*initiator.Session, 0, c.sessions)
	defer func() {
		for _, s := range sessions {
			lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.Logout(lctx)
			cancel()
		}
	}()
	for i := 0; i < c.sessions; i++ {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		s, err := initiator.Dial(dctx, opts)
		cancel()
		if err != nil {
			return nil, err
		}
		sessions = append(sessions, s)
	}
	s0 := sessions[0]
	// Clear the power-on unit attention of each session.
	for _, s := range sessions {
		for i := 0; i < 3 && s.TestUnitReady(ctx, u.LUN) != nil; i++ {
		}
	}
	blocks, blockSize, err := s0.ReadCapacity(ctx, u.LUN)
	if err != nil {
		return nil, err
	}
	if c.bs%int(blockSize) != 0 {
		return nil, fmt.Errorf("--bs %d is not a multiple of the %d-byte block", c.bs, blockSize)
	}
	spanBytes := c.span
	if spanBytes == 0 {
		spanBytes = min(int64(blocks)*int64(blockSize), 1<<30)
	}
	spanBytes = min(spanBytes, int64(blocks)*int64(blockSize))
	ioBlocks := uint64(c.bs) / uint64(blockSize)
	slots := uint64(spanBytes) / uint64(c.bs) // I/O-sized slots in the span
	if slots == 0 {
		return nil, fmt.Errorf("span of %d bytes is smaller than one I/O", spanBytes)
	}
	seed := uint64(time.Now().UnixNano())

	workers := make([]*worker, 0, c.qd*c.sessions)
	for i := 0; i < c.qd*c.sessions; i++ {
		workers = append(workers, &worker{sess: sessions[i%len(sessions)], lun: u.LUN, buf: make([]byte, c.bs),
			rng: seed ^ uint64(i+1)*0x9e3779b97f4a7c15})
	}
	rep := &iscsiReport{Op: c.op, BlockSize: c.bs, QueueDepth: c.qd, Sessions: c.sessions, Digests: c.digests}

	if c.verify {
		// Fill the span so every read, during the run and after it, has a known answer.
		if err := runPhase(ctx, workers, slots, func(w *worker, slot uint64) error {
			lba := slot * ioBlocks
			fillPattern(w.buf, lba, blockSize, seed)
			return w.sess.WriteAt(ctx, w.lun, lba, w.buf, false)
		}); err != nil {
			return nil, fmt.Errorf("verify fill: %w", err)
		}
	}

	write := c.op == "write" || c.op == "randwrite"
	random := c.op == "randread" || c.op == "randwrite"
	var seq atomic.Uint64
	for _, w := range workers {
		if write && !c.verify {
			fillPattern(w.buf, 0, blockSize, seed)
		}
	}
	host0, _ := hostCPU()
	cpu0, cpuErr := procCPU(c.pid)
	if c.pid != 0 && cpuErr != nil {
		return nil, cpuErr
	}
	runCtx, cancel := context.WithTimeout(ctx, c.dur)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				var slot uint64
				if random {
					slot = w.next() % slots
				} else {
					slot = (seq.Add(1) - 1) % slots
				}
				lba := slot * ioBlocks
				if write && c.verify {
					fillPattern(w.buf, lba, blockSize, seed)
				}
				t0 := time.Now()
				var err error
				if write {
					err = w.sess.WriteAt(ctx, w.lun, lba, w.buf, false)
				} else {
					err = w.sess.ReadAt(ctx, w.lun, lba, w.buf)
				}
				w.hist.record(uint64(time.Since(t0)))
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					if w.sess.Err() != nil || w.errs > 100 {
						return
					}
					continue
				}
				w.ios++
				if !write && c.verify {
					w.mismatch += checkPattern(w.buf, lba, blockSize, seed)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu1, _ := procCPU(c.pid)
	host1, hostErr := hostCPU()

	var h histogram
	for _, w := range workers {
		h.merge(&w.hist)
		rep.IOs += w.ios
		rep.Mismatches += w.mismatch
		rep.Errors += w.errs
		if w.firstErr != nil && rep.FirstError == "" {
			rep.FirstError = w.firstErr.Error()
		}
	}
	rep.Seconds = elapsed
	rep.Bytes = rep.IOs * uint64(c.bs)
	rep.IOPS = float64(rep.IOs) / elapsed
	rep.MBps = float64(rep.Bytes) / 1e6 / elapsed
	us := func(ns uint64) float64 { return float64(ns) / 1e3 }
	rep.LatMeanUs = h.mean() / 1e3
	rep.LatP50Us, rep.LatP99Us, rep.LatP999Us = us(h.quantile(0.5)), us(h.quantile(0.99)), us(h.quantile(0.999))
	rep.LatMaxUs = us(h.max)
	if hostErr == nil && host0 > 0 {
		rep.HostCPUSeconds = host1 - host0
		if rep.Bytes > 0 {
			rep.HostCPUSecondsPerGB = rep.HostCPUSeconds / (float64(rep.Bytes) / 1e9)
		}
	}
	if c.pid != 0 {
		rep.TargetCPUSeconds = cpu1 - cpu0
		if rep.Bytes > 0 {
			rep.CPUSecondsPerGB = rep.TargetCPUSeconds / (float64(rep.Bytes) / 1e9)
			rep.CPUMicrosPerIO = rep.TargetCPUSeconds * 1e6 / float64(rep.IOs)
		}
	}

	if c.verify && ctx.Err() == nil {
		rep.Verified = true
		var bad atomic.Uint64
		if err := runPhase(ctx, workers, slots, func(w *worker, slot uint64) error {
			lba := slot * ioBlocks
			if err := w.sess.ReadAt(ctx, w.lun, lba, w.buf); err != nil {
				return err
			}
			bad.Add(checkPattern(w.buf, lba, blockSize, seed))
			return nil
		}); err != nil {
			return rep, fmt.Errorf("verify read-back: %w", err)
		}
		rep.Mismatches += bad.Load()
	}
	return rep, nil
}

// runPhase runs fn once for every slot in [0, slots) on all workers.
func runPhase(ctx context.Context, workers []*worker, slots uint64, fn func(w *worker, slot uint64) error) error {
	var next atomic.Uint64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				slot := next.Add(1) - 1
				if slot >= slots {
					return
				}
				if err := fn(w, slot); err != nil {
					once.Do(func() { first = err })
					next.Store(slots)
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// fillPattern stamps each block of b (starting at lba) with its LBA and the run's seed, then fills the rest of
// the block from a generator seeded by both, so a block read from the wrong place or an older run is caught.
func fillPattern(b []byte, lba uint64, blockSize uint32, seed uint64) {
	bs := int(blockSize)
	for off := 0; off+bs <= len(b); off += bs {
		blk := b[off : off+bs]
		x := (lba + uint64(off/bs)) ^ seed*0x9e3779b97f4a7c15 | 1
		for i := 0; i+8 <= len(blk); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			putLE(blk[i:], x)
		}
		putLE(blk[0:], lba+uint64(off/bs))
		putLE(blk[8:], seed)
	}
}

// checkPattern returns how many blocks of b differ from fillPattern's.
func checkPattern(b []byte, lba uint64, blockSize uint32, seed uint64) uint64 {
	bs := int(blockSize)
	var bad uint64
	for off := 0; off+bs <= len(b); off += bs {
		blk := b[off : off+bs]
		x := (lba + uint64(off/bs)) ^ seed*0x9e3779b97f4a7c15 | 1
		ok := getLE(blk[0:]) == lba+uint64(off/bs) && getLE(blk[8:]) == seed
		for i := 16; ok && i+8 <= len(blk); i += 8 {
			if i == 16 {
				// Advance the generator past the two stamped words.
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
			}
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			ok = getLE(blk[i:]) == x
		}
		if !ok {
			bad++
		}
	}
	return bad
}

func putLE(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

func getLE(b []byte) uint64 {
	_ = b[7]
	var v uint64
	for i := range 8 {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}

// hostCPU returns the machine's busy CPU seconds so far: the first line of /proc/stat less idle
// and iowait (USER_HZ ticks).
func hostCPU() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("host cpu: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, errors.New("host cpu: malformed /proc/stat")
	}
	var busy uint64
	for i, s := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("host cpu: /proc/stat: %w", err)
		}
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return float64(busy) / 100, nil
}

// procCPU returns utime+stime of process pid in seconds (the process line of /proc/PID/stat sums all
// threads). USER_HZ is 100 on every Linux ABI.
func procCPU(pid int) (float64, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("target cpu: %w", err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("target cpu: malformed /proc/%d/stat", pid)
	}
	// Fields after the command: state is field 3; utime and stime are fields 14 and 15.
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("target cpu: malformed /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("target cpu: malformed /proc/%d/stat", pid)
	}
	return float64(ut+st) / 100, nil
}
