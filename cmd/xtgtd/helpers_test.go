package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/xtgt/xtgt/internal/adminapi"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/initiator"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

const (
	iqnA = "iqn.2026-11.dev.xtgt:a"
	iqnB = "iqn.2026-11.dev.xtgt:b"
)

type testDaemon struct {
	*daemon
	dir, cfgPath, socket string
}

func testHandler(level *slog.LevelVar) slog.Handler {
	if os.Getenv("XTGT_TEST_LOG") != "" {
		return slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	}
	return slog.DiscardHandler
}

// startTest runs a daemon in-process for the test's lifetime from the YAML config yml (portals default to
// 127.0.0.1:0).
func startTest(t *testing.T, yml string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	td := &testDaemon{dir: dir, cfgPath: filepath.Join(dir, "xtgtd.yaml"), socket: filepath.Join(dir, "admin.sock")}
	writeConfig(t, td.cfgPath, yml)
	d, err := startDaemon(options{configPath: td.cfgPath, targetName: defaultTarget, adminSocket: td.socket,
		adminStrict: true}, testHandler)
	if err != nil {
		t.Fatal(err)
	}
	td.daemon = d
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return td
}

func writeConfig(t *testing.T, path, yml string) {
	t.Helper()
	if !strings.Contains(yml, "portals:") {
		yml = "portals: [\"127.0.0.1:0\"]\n" + yml
	}
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (td *testDaemon) addr() string { return td.portalAddrs()[0] }

func (td *testDaemon) dial(t *testing.T, iqn, initiatorName string) *initiator.Session {
	t.Helper()
	s, err := td.tryDial(iqn, initiatorName)
	if err != nil {
		t.Fatalf("login to %s as %s: %v", iqn, initiatorName, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (td *testDaemon) tryDial(iqn, initiatorName string) (*initiator.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return initiator.Dial(ctx, initiator.Options{Address: td.addr(), TargetName: iqn, InitiatorName: initiatorName})
}

// reportLUNs runs REPORT LUNS on s.
func reportLUNs(t *testing.T, s *initiator.Session) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	buf := make([]byte, 4096)
	cdb := make([]byte, 12)
	cdb[0] = 0xA0
	binary.BigEndian.PutUint32(cdb[6:], uint32(len(buf)))
	res, err := s.Do(ctx, 0, cdb, nil, buf)
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		t.Fatalf("REPORT LUNS: %v", err)
	}
	n := binary.BigEndian.Uint32(buf[0:4]) / 8
	var out []uint64
	for i := range n {
		out = append(out, scsi.DecodeLUN([8]byte(buf[8+8*i:16+8*i])))
	}
	slices.Sort(out)
	return out
}

// retryUA runs f again when it fails with a unit attention (what an initiator does after a LUN inventory
// change); any other failure is returned.
func retryUA(f func() error) error {
	var err error
	for range 4 {
		err = f()
		var se *initiator.StatusError
		if !errors.As(err, &se) || !se.HasSense || se.Sense.Key != scsi.KeyUnitAttention {
			return err
		}
	}
	return err
}

// ioLoop writes and reads back distinct blocks on lun 0 of s until stop is closed (or 20 s pass) and reports
// the first failure and how many rounds succeeded.
func ioLoop(s *initiator.Session, stop <-chan struct{}) (rounds int, err error) {
	deadline := time.Now().Add(20 * time.Second)
	w := make([]byte, 4096)
	r := make([]byte, 4096)
	for i := 0; time.Now().Before(deadline); i++ {
		select {
		case <-stop:
			return rounds, nil
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lba := uint64(i%64) * 8
		for j := range w {
			w[j] = byte(i + j)
		}
		err := retryUA(func() error { return s.WriteAt(ctx, 0, lba, w, false) })
		if err == nil {
			err = retryUA(func() error { return s.ReadAt(ctx, 0, lba, r) })
		}
		cancel()
		if err != nil {
			return rounds, fmt.Errorf("round %d: %w", i, err)
		}
		if !bytes.Equal(w, r) {
			return rounds, fmt.Errorf("round %d: read back different data", i)
		}
		rounds++
	}
	return rounds, errors.New("io loop ran out of time")
}

// startIO runs ioLoop in the background; the returned function stops it and fails the test if it failed or
// made no progress.
func startIO(t *testing.T, s *initiator.Session) (stop func()) {
	t.Helper()
	stopc := make(chan struct{})
	type result struct {
		rounds int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		n, err := ioLoop(s, stopc)
		done <- result{n, err}
	}()
	return func() {
		t.Helper()
		close(stopc)
		r := <-done
		if r.err != nil {
			t.Errorf("I/O on the existing session failed after %d rounds: %v", r.rounds, r.err)
		}
		if r.rounds == 0 {
			t.Error("I/O on the existing session made no progress")
		}
	}
}

// alive reports whether s is still open.
func alive(s *initiator.Session) bool {
	select {
	case <-s.Done():
		return false
	default:
		return true
	}
}

// adminClient talks to the daemon's admin socket.
func adminClient(socket string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}}}
}

// adminCall sends a JSON request and decodes the answer into out; it returns the HTTP status.
func adminCall(t *testing.T, socket, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://xtgtd"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := adminClient(socket).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return resp.StatusCode
}

func lunNumbersOf(targets []adminapi.Target, name string) []uint64 {
	for _, t := range targets {
		if t.Name == name {
			var out []uint64
			for _, l := range t.LUNs {
				out = append(out, l.Number)
			}
			return out
		}
	}
	return nil
}

// waitFor polls cond every 10 ms for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (td *testDaemon) tryDialAt(addr, iqn string) (*initiator.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return initiator.Dial(ctx, initiator.Options{Address: addr, TargetName: iqn})
}
