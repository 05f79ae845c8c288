package xsk

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xtgt/xtgt/bpf"
	"github.com/xtgt/xtgt/internal/netnstest"
)

// blast sends n copies of frame from an AF_XDP socket in namespace B (copy
// mode) as fast as it can and returns how long it took.
func (b *bed) blast(tb testing.TB, frame []byte, n int) (time.Duration, error) {
	var tx *Socket
	if err := b.p.B.Do(func() (err error) {
		tx, err = Open(Config{Ifindex: b.p.IndexB, Queue: 0, NumFrames: 4096, RingSize: 2048})
		return err
	}); err != nil {
		return 0, err
	}
	defer tx.Close()
	batch := make([]Frame, 0, 64)
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for sent := 0; sent < n && time.Now().Before(deadline); {
		batch = batch[:0]
		for len(batch) < cap(batch) && sent+len(batch) < n {
			f, ok := tx.GetTxFrame()
			if !ok {
				break
			}
			f.Data = f.Data[:copy(f.Data, frame)]
			batch = append(batch, f)
		}
		k, err := tx.Transmit(batch)
		if err != nil {
			return 0, err
		}
		for _, f := range batch[k:] {
			tx.PutTxFrame(f)
		}
		sent += k
		tx.Complete()
	}
	for i := 0; i < 1000 && tx.txPending > 0; i++ {
		tx.Poll(time.Millisecond)
	}
	return time.Since(start), nil
}

func tcpInSegs(tb testing.TB, b *bed) uint64 { return snmp(tb, b.p.A, "Tcp", "InSegs") }

// snmp returns one counter of /proc/net/snmp (group "Tcp", "Udp", ...) in
// namespace ns.
func snmp(tb testing.TB, ns *netnstest.NS, group, field string) uint64 {
	tb.Helper()
	var v uint64
	ns.Run(tb, func() error {
		f, err := os.Open("/proc/thread-self/net/snmp")
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		var names []string
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || fields[0] != group+":" {
				continue
			}
			if names == nil {
				names = fields
				continue
			}
			for i, n := range names {
				if n == field && i < len(fields) {
					v, err = strconv.ParseUint(fields[i], 10, 64)
					return err
				}
			}
			break
		}
		return fmt.Errorf("no %s %s in snmp", group, field)
	})
	return v
}

// BenchmarkVethReceive compares the AF_XDP socket's receive rate (copy mode,
// native XDP on veth) with the kernel's receive of the same TCP segments
// (rule removed: the kernel takes them and answers RST). The sender is an
// AF_XDP socket in the peer namespace; b.N frames are sent per run.
func BenchmarkVethReceive(b *testing.B) {
	bd := newBed(b, bpf.ModeNative)
	frame := bd.tcpFrame(steeredPort, 5, 1)

	b.Run("xsk-copy", func(b *testing.B) {
		done := make(chan struct{})
		var got int
		var first, last time.Time
		go func() {
			defer close(done)
			frames := make([]Frame, 64)
			idle := time.Now()
			for got < b.N && time.Since(idle) < 500*time.Millisecond {
				bd.xs.Poll(10 * time.Millisecond)
				n := bd.xs.Receive(frames)
				if n > 0 {
					if got == 0 {
						first = time.Now()
					}
					got += n
					last = time.Now()
					idle = last
				}
				bd.xs.ReleaseBatch(frames[:n])
			}
		}()
		b.ResetTimer()
		sendTime, err := bd.blast(b, frame, b.N)
		<-done // the receiver stops after 500ms without frames
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		el := last.Sub(first)
		if got > 1 && el > 0 {
			b.ReportMetric(float64(got)/el.Seconds()/1e6, "Mpps-rx")
		}
		b.ReportMetric(float64(b.N)/sendTime.Seconds()/1e6, "Mpps-tx")
		b.ReportMetric(100*float64(b.N-got)/float64(b.N), "%lost")
	})

	b.Run("kernel", func(b *testing.B) {
		if err := bd.steer.DelRule(bdRule(bd)); err != nil {
			b.Fatal(err)
		}
		defer bd.steer.AddRule(bdRule(bd))
		before := tcpInSegs(b, bd)
		b.ResetTimer()
		sendTime, err := bd.blast(b, frame, b.N)
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		b.StopTimer()
		got := tcpInSegs(b, bd) - before
		b.ReportMetric(float64(got)/sendTime.Seconds()/1e6, "Mpps-rx")
		b.ReportMetric(float64(b.N)/sendTime.Seconds()/1e6, "Mpps-tx")
		b.ReportMetric(100*float64(uint64(b.N)-min(got, uint64(b.N)))/float64(b.N), "%lost")
	})
}
