package iwarp

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xtgt/xtgt/datapath/verbs"
)

// capture runs dumpcap on lo for TCP port port while traffic runs, bounded in time, and returns the file.
func capture(t *testing.T, port int, traffic func()) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: captures on lo with dumpcap")
	}
	if _, err := exec.LookPath("dumpcap"); err != nil {
		t.Skip("dumpcap not installed (apt-get install tshark)")
	}
	file := filepath.Join(t.TempDir(), "iwarp.pcapng")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dumpcap", "-q", "-i", "lo", "-f", fmt.Sprintf("tcp port %d", port),
		"-a", "duration:50", "-s", "0", "-w", file)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("dumpcap: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Capturing on") && !once {
				once = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Skip("dumpcap did not start capturing")
	}
	time.Sleep(200 * time.Millisecond)
	traffic()
	time.Sleep(500 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return file
}

func tshark(t *testing.T, file string, args ...string) string {
	t.Helper()
	base := []string{"-r", file, "-o", "tcp.try_heuristic_first:TRUE",
		"--disable-heuristic", "rpcrdma_iwarp", "--disable-heuristic", "smb_direct_iwarp"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tshark", append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// TestWireTshark captures the loopback exchange and checks that tshark decodes it as iwarp_mpa and
// iwarp_ddp_rdmap with every MPA CRC good.
func TestWireTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark)")
	}
	for _, markers := range []bool{false, true} {
		t.Run(fmt.Sprintf("markers=%v", markers), func(t *testing.T) {
			cfg := Config{CRC: true, Markers: markers}
			srv := newEnd(t, cfg, 1<<20)
			cli := newEnd(t, cfg, 1<<20)
			ln, err := srv.dev.Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			sizes := []int{1, 1000, 70000}
			if markers {
				sizes = []int{1, 100, 300} // tshark strips markers assuming one FPDU per TCP segment
			}
			file := capture(t, port, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				go func() {
					if r, err := ln.Accept(ctx); err == nil {
						_ = r.Accept(srv.qp, verbs.ConnParam{PrivateData: []byte("xtgt")})
					}
				}()
				if _, err := cli.dev.Connect(ctx, cli.qp, ln.Addr().String(), verbs.ConnParam{}); err != nil {
					t.Fatal(err)
				}
				for i, n := range sizes {
					e2eWrite(t, cli, srv, n, uint64(i))
					e2eRead(t, cli, srv, n, uint64(i))
					e2eSend(t, cli, srv, n, uint64(i))
				}
				cli.qp.Close()
				srv.qp.Close()
			})
			ops := tshark(t, file, "-Y", "iwarp_ddp_rdmap", "-T", "fields", "-e", "iwarp_rdma.opcode")
			for op, name := range map[string]string{"0x00": "Write", "0x01": "Read Request", "0x02": "Read Response", "0x03": "Send"} {
				if !strings.Contains(ops, op) {
					t.Errorf("no %s decoded", name)
				}
			}
			frames := tshark(t, file, "-Y", "iwarp_mpa.req || iwarp_mpa.rep", "-T", "fields", "-e", "iwarp_mpa.crc_flag", "-e", "iwarp_mpa.marker_flag")
			wantFlags := map[bool]string{false: "1\t0", true: "1\t1"}[markers]
			if lines := strings.Split(strings.TrimSpace(frames), "\n"); len(lines) != 2 || lines[0] != wantFlags || lines[1] != wantFlags {
				t.Errorf("MPA Request/Reply not decoded: %q", frames)
			}
			verbose := tshark(t, file, "-V", "-Y", "iwarp_mpa")
			good := strings.Count(verbose, "(Good CRC32)")
			checks := strings.Count(verbose, "CRC check: ")
			fpdus := cli.qp.Stats().TxFPDUs + srv.qp.Stats().TxFPDUs
			t.Logf("%d FPDUs sent, tshark: %d CRC checks, %d good", fpdus, checks, good)
			if strings.Contains(verbose, "Bad CRC32") || good != checks || uint64(good) != fpdus {
				t.Fatalf("tshark CRC verdicts: %d good of %d checks, %d FPDUs sent", good, checks, fpdus)
			}
			if strings.Contains(verbose, "Malformed") {
				t.Fatal("tshark reports a malformed packet")
			}
		})
	}
}
