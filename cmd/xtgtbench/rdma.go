package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xtgt/xtgt/datapath/iwarp"
	"github.com/xtgt/xtgt/datapath/verbs"
)

func init() {
	register("rdma", "software RNIC bandwidth/latency (perftest-style write/read/send)", runRDMA)
}

type rdmaOpts struct {
	listen, connect, op string
	size, qd            int
	dur                 time.Duration
	markers, crc        bool
	verify, json        bool
}

// rdmaResult is one client run.
type rdmaResult struct {
	Op        string  `json:"op"`
	Size      int     `json:"size"`
	QD        int     `json:"qd"`
	Markers   bool    `json:"markers"`
	CRC       bool    `json:"crc"`
	Seconds   float64 `json:"seconds"`
	Ops       uint64  `json:"ops"`
	Gbps      float64 `json:"gbps"`
	MOps      float64 `json:"mops"`
	P50us     float64 `json:"lat_p50_us"`
	P99us     float64 `json:"lat_p99_us"`
	CPUPct    float64 `json:"cpu_pct"`
	VerifyErr uint64  `json:"verify_errors"`
	Copies    uint64  `json:"place_copies"`
}

func rdmaParseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func runRDMA(args []string) error {
	var o rdmaOpts
	var size string
	fs := flag.NewFlagSet("rdma", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "", "serve on HOST:PORT")
	fs.StringVar(&o.connect, "connect", "", "connect to HOST:PORT")
	fs.StringVar(&o.op, "op", "write", "write|read|send")
	fs.StringVar(&size, "size", "64k", "message size (k/m suffix)")
	fs.IntVar(&o.qd, "qd", 16, "outstanding operations")
	fs.DurationVar(&o.dur, "time", 10*time.Second, "run time")
	fs.BoolVar(&o.markers, "markers", false, "MPA markers")
	fs.BoolVar(&o.crc, "crc", false, "MPA CRC32C")
	fs.BoolVar(&o.verify, "verify", false, "check data")
	fs.BoolVar(&o.json, "j", false, "JSON output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.size, err = rdmaParseSize(size); err != nil {
		return err
	}
	if o.qd < 1 || o.qd > 1024 || o.size > 64<<20 {
		return errors.New("qd must be 1..1024 and size at most 64m")
	}
	switch {
	case o.listen != "":
		return rdmaServe(o)
	case o.connect != "":
		return rdmaClient(o)
	}
	return errors.New("need --listen or --connect")
}

var rdmaOpCodes = map[string]byte{"write": 0, "read": 1, "send": 2}

func rdmaPattern(b []byte, seed int) {
	for i := range b {
		b[i] = byte(i*7 + i>>9 + seed)
	}
}

func rdmaCPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type rdmaConn struct {
	pd       verbs.PD
	ch       verbs.CompChannel
	scq, rcq verbs.CQ
	qp       verbs.QP
}

// poll returns completions from cq, sleeping on the completion channel when there are none.
func (c *rdmaConn) poll(cq verbs.CQ, wcs []verbs.WC) (int, error) {
	for i := 0; ; i++ {
		if n := cq.Poll(wcs); n > 0 {
			return n, nil
		}
		select {
		case <-c.qp.Done():
			return 0, fmt.Errorf("connection lost: %v", c.qp.Err())
		default:
		}
		if i < 50 {
			continue // brief spin before arming
		}
		if err := cq.ReqNotify(false); err != nil {
			return 0, err
		}
		if n := cq.Poll(wcs); n > 0 {
			return n, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, _ = c.ch.GetEvent(ctx)
		cancel()
	}
}

func newRDMAConn(dev verbs.Device, qd int) (*rdmaConn, error) {
	pd, err := dev.AllocPD()
	if err != nil {
		return nil, err
	}
	ch, err := dev.CreateCompChannel()
	if err != nil {
		return nil, err
	}
	scq, _ := dev.CreateCQ(4*qd+16, ch)
	rcq, _ := dev.CreateCQ(4*qd+16, ch)
	qp, err := pd.CreateQP(verbs.QPAttr{SendCQ: scq, RecvCQ: rcq, MaxSendWR: 2*qd + 4, MaxRecvWR: 2*qd + 4, IRD: qd, ORD: qd})
	if err != nil {
		return nil, err
	}
	return &rdmaConn{pd: pd, ch: ch, scq: scq, rcq: rcq, qp: qp}, nil
}

func rdmaServe(o rdmaOpts) error {
	dev := iwarp.NewDevice(iwarp.Config{Markers: o.markers, MatchPeerMarkers: true, CRC: o.crc})
	ln, err := dev.Listen(o.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "xtgtbench rdma: listening on %s\n", ln.Addr())
	for {
		r, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			if err := rdmaServeConn(dev, r); err != nil {
				fmt.Fprintf(os.Stderr, "xtgtbench rdma: %s: %v\n", r.RemoteAddr(), err)
			}
		}()
	}
}

func rdmaServeConn(dev verbs.Device, r verbs.ConnRequest) error {
	pd := r.Param().PrivateData
	if len(pd) < 7 {
		return r.Reject([]byte("bad request"))
	}
	op, size, qd := pd[0], int(binary.BigEndian.Uint32(pd[1:5])), int(binary.BigEndian.Uint16(pd[5:7]))
	if size <= 0 || size > 64<<20 || qd <= 0 || qd > 1024 || size*qd > 1<<30 {
		return r.Reject([]byte("bad size"))
	}
	c, err := newRDMAConn(dev, qd)
	if err != nil {
		return err
	}
	buf := make([]byte, size*qd)
	for i := 0; i < qd; i++ {
		rdmaPattern(buf[i*size:(i+1)*size], 0)
	}
	mr, err := c.pd.RegMR(buf, verbs.AccessLocalWrite|verbs.AccessRemoteWrite|verbs.AccessRemoteRead, 0x100000000)
	if err != nil {
		return err
	}
	small, _ := c.pd.RegMR(make([]byte, 64), verbs.AccessLocalWrite|verbs.AccessZeroBased, 0)
	if op == rdmaOpCodes["send"] {
		for i := 0; i < qd; i++ {
			wr := verbs.RecvWR{ID: uint64(i), SGL: []verbs.SGE{{Addr: mr.Addr() + uint64(i*size), Length: uint32(size), LKey: mr.LKey()}}}
			if err := c.qp.PostRecv(&wr); err != nil {
				return err
			}
		}
	}
	rep := binary.BigEndian.AppendUint32(nil, mr.RKey())
	rep = binary.BigEndian.AppendUint64(rep, mr.Addr())
	if err := r.Accept(c.qp, verbs.ConnParam{PrivateData: rep}); err != nil {
		return err
	}
	start, cpu0 := time.Now(), rdmaCPUTime()
	defer func() {
		el := time.Since(start)
		st := c.qp.Stats()
		fmt.Fprintf(os.Stderr, "xtgtbench rdma server: %s rx %d B placed in %d copies, cpu %.0f%%\n",
			r.RemoteAddr(), st.PlacedBytes, st.PlaceCopies, 100*float64(rdmaCPUTime()-cpu0)/float64(el))
		c.qp.Close()
	}()
	if op != rdmaOpCodes["send"] {
		<-c.qp.Done()
		return nil
	}
	// Send mode: each received message is answered by a credit Send and its buffer reposted.
	wcs := make([]verbs.WC, 64)
	sgl := []verbs.SGE{{Length: 4, LKey: small.LKey()}}
	rsgl := []verbs.SGE{{Length: uint32(size), LKey: mr.LKey()}}
	for {
		rdmaDrainSCQ(c.scq)
		n, err := c.poll(c.rcq, wcs)
		if err != nil {
			return nil
		}
		for _, wc := range wcs[:n] {
			if wc.Status != verbs.StatusSuccess {
				return nil
			}
			bad := byte(0)
			slot := buf[int(wc.ID)*size : int(wc.ID+1)*size]
			if wc.ByteLen != uint32(size) || (len(slot) > 0 && slot[0] != byte(wc.ID)) {
				bad = 1
			}
			small.Buf()[0] = bad
			rsgl[0].Addr = mr.Addr() + wc.ID*uint64(size)
			if err := c.qp.PostRecv(&verbs.RecvWR{ID: wc.ID, SGL: rsgl}); err != nil {
				return nil
			}
			if err := c.qp.PostSend(&verbs.SendWR{Op: verbs.OpSend, SGL: sgl}); err != nil {
				return nil
			}
		}
	}
}

func rdmaClient(o rdmaOpts) error {
	opc, ok := rdmaOpCodes[o.op]
	if !ok {
		return fmt.Errorf("unknown op %q", o.op)
	}
	dev := iwarp.NewDevice(iwarp.Config{Markers: o.markers, CRC: o.crc})
	c, err := newRDMAConn(dev, o.qd)
	if err != nil {
		return err
	}
	buf := make([]byte, o.size*o.qd)
	for i := 0; i < o.qd; i++ {
		rdmaPattern(buf[i*o.size:(i+1)*o.size], 0)
		buf[i*o.size] = byte(i) // send mode: the server checks the slot tag
	}
	local, err := c.pd.RegMR(buf, verbs.AccessLocalWrite|verbs.AccessZeroBased, 0)
	if err != nil {
		return err
	}
	credit, _ := c.pd.RegMR(make([]byte, 4*o.qd), verbs.AccessLocalWrite|verbs.AccessZeroBased, 0)
	req := []byte{opc}
	req = binary.BigEndian.AppendUint32(req, uint32(o.size))
	req = binary.BigEndian.AppendUint16(req, uint16(o.qd))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	rep, err := dev.Connect(ctx, c.qp, o.connect, verbs.ConnParam{PrivateData: req})
	cancel()
	if err != nil {
		return err
	}
	defer c.qp.Close()
	if len(rep.PrivateData) < 12 {
		return errors.New("short reply private data")
	}
	rkey, raddr := binary.BigEndian.Uint32(rep.PrivateData[0:4]), binary.BigEndian.Uint64(rep.PrivateData[4:12])
	if opc == rdmaOpCodes["send"] {
		for i := 0; i < o.qd; i++ {
			wr := verbs.RecvWR{ID: uint64(i), SGL: []verbs.SGE{{Addr: uint64(4 * i), Length: 4, LKey: credit.LKey()}}}
			if err := c.qp.PostRecv(&wr); err != nil {
				return err
			}
		}
	}
	res := rdmaResult{Op: o.op, Size: o.size, QD: o.qd, Markers: o.markers, CRC: o.crc}
	lat := make([]time.Duration, 0, 1<<20)
	posted := make([]time.Time, o.qd)
	sendQ := make([]int, 0, o.qd) // send mode: slots waiting for their credit, in order
	sgl := []verbs.SGE{{Length: uint32(o.size), LKey: local.LKey()}}
	wr := verbs.SendWR{Flags: verbs.FlagSignaled, SGL: sgl, RKey: rkey}
	switch opc {
	case 0:
		wr.Op = verbs.OpWrite
	case 1:
		wr.Op = verbs.OpRead
	default:
		wr.Op, wr.Flags = verbs.OpSend, 0
	}
	post := func(slot int) error {
		wr.ID = uint64(slot)
		sgl[0].Addr = uint64(slot * o.size)
		wr.RemoteAddr = raddr + uint64(slot*o.size)
		posted[slot] = time.Now()
		if opc == 2 {
			sendQ = append(sendQ, slot)
		}
		return c.qp.PostSend(&wr)
	}
	start, cpu0 := time.Now(), rdmaCPUTime()
	end := start.Add(o.dur)
	for i := 0; i < o.qd; i++ {
		if err := post(i); err != nil {
			return err
		}
	}
	outstanding := o.qd
	wcs := make([]verbs.WC, 64)
	stopping := false
	for outstanding > 0 {
		cq := c.scq
		if opc == 2 {
			cq = c.rcq
		}
		n, err := c.poll(cq, wcs)
		if err != nil {
			return err
		}
		now := time.Now()
		if !stopping && now.After(end) {
			stopping = true
		}
		for _, wc := range wcs[:n] {
			if wc.Status != verbs.StatusSuccess {
				return fmt.Errorf("completion %s: %v", wc.Status, c.qp.Err())
			}
			slot := int(wc.ID)
			if opc == 2 {
				slot, sendQ = sendQ[0], sendQ[1:]
				if credit.Buf()[4*int(wc.ID)] != 0 {
					res.VerifyErr++
				}
				if err := c.qp.PostRecv(&verbs.RecvWR{ID: wc.ID, SGL: []verbs.SGE{{Addr: wc.ID * 4, Length: 4, LKey: credit.LKey()}}}); err != nil {
					return err
				}
			}
			if len(lat) < cap(lat) {
				lat = append(lat, now.Sub(posted[slot]))
			}
			res.Ops++
			if o.verify && opc == 1 && !rdmaCheckPattern(buf[slot*o.size:(slot+1)*o.size]) {
				res.VerifyErr++
			}
			if stopping {
				outstanding--
				continue
			}
			if err := post(slot); err != nil {
				return err
			}
		}
		if opc == 2 {
			rdmaDrainSCQ(c.scq)
		}
	}
	el := time.Since(start)
	res.CPUPct = 100 * float64(rdmaCPUTime()-cpu0) / float64(el)
	if o.verify && opc == 0 {
		res.VerifyErr += rdmaVerifyWrite(c, local, buf, o.size, o.qd, rkey, raddr)
	}
	res.Seconds = el.Seconds()
	res.Gbps = float64(res.Ops) * float64(o.size) * 8 / el.Seconds() / 1e9
	res.MOps = float64(res.Ops) / el.Seconds() / 1e6
	slices.Sort(lat)
	if len(lat) > 0 {
		res.P50us = float64(lat[len(lat)/2]) / 1e3
		res.P99us = float64(lat[len(lat)*99/100]) / 1e3
	}
	res.Copies = c.qp.Stats().PlaceCopies
	if o.json {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("%-5s size %-8d qd %-3d markers %-5v crc %-5v  %8.2f Gb/s  %8.3f Mmsg/s  p50 %8.1f us  p99 %8.1f us  cpu %5.0f%%",
		res.Op, res.Size, res.QD, res.Markers, res.CRC, res.Gbps, res.MOps, res.P50us, res.P99us, res.CPUPct)
	if o.verify {
		fmt.Printf("  verify errors %d", res.VerifyErr)
	}
	fmt.Println()
	if res.VerifyErr > 0 {
		return fmt.Errorf("%d verify errors", res.VerifyErr)
	}
	return nil
}

var rdmaDrainBuf = make([]verbs.WC, 64)

func rdmaDrainSCQ(cq verbs.CQ) {
	for cq.Poll(rdmaDrainBuf) > 0 {
	}
}

func rdmaCheckPattern(b []byte) bool {
	for i := range b {
		if b[i] != byte(i*7+i>>9) {
			return false
		}
	}
	return true
}

// rdmaVerifyWrite reads every remote slot back and compares it with what was written.
func rdmaVerifyWrite(c *rdmaConn, local verbs.MR, buf []byte, size, qd int, rkey uint32, raddr uint64) uint64 {
	check := make([]byte, size)
	mr, err := c.pd.RegMR(check, verbs.AccessLocalWrite|verbs.AccessZeroBased, 0)
	if err != nil {
		return 1
	}
	var bad uint64
	wcs := make([]verbs.WC, 1)
	for slot := 0; slot < qd; slot++ {
		wr := verbs.SendWR{ID: 1 << 32, Op: verbs.OpRead, Flags: verbs.FlagSignaled,
			SGL: []verbs.SGE{{Length: uint32(size), LKey: mr.LKey()}}, RKey: rkey, RemoteAddr: raddr + uint64(slot*size)}
		if c.qp.PostSend(&wr) != nil {
			return bad + 1
		}
		deadline := time.Now().Add(10 * time.Second)
		for c.scq.Poll(wcs) == 0 {
			if time.Now().After(deadline) {
				return bad + 1
			}
		}
		if wcs[0].Status != verbs.StatusSuccess || string(check) != string(buf[slot*size:(slot+1)*size]) {
			bad++
		}
	}
	return bad
}
