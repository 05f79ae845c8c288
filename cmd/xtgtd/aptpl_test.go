package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xtgt/xtgt/iscsi/initiator"
	"github.com/xtgt/xtgt/iscsi/scsi"
)

// startBuilt runs the xtgtd binary with args and waits for addr to accept connections.
func startBuilt(t *testing.T, bin, addr string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
		}
	})
	for i := 0; i < 200; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("xtgtd not listening on %s", addr)
	return nil
}

// doUA runs a command, retrying through unit attentions (as an initiator does after login or a restart).
func doUA(t *testing.T, s *initiator.Session, cdb, out, in []byte) initiator.Result {
	t.Helper()
	for i := 0; i < 4; i++ {
		r, err := s.Do(context.Background(), 0, cdb, out, in)
		if err != nil {
			t.Fatalf("command %#x: %v", cdb[0], err)
		}
		if r.Status == 2 && r.HasSense && r.Sense.Key == scsi.KeyUnitAttention {
			continue
		}
		return r
	}
	t.Fatalf("command %#x: unit attention does not clear", cdb[0])
	return initiator.Result{}
}

// TestAPTPLSurvivesRestart registers a key with APTPL=1 and takes a reservation, restarts the daemon, and reads
// both back (SPC-4 §5.9.4: persist through power loss).
func TestAPTPLSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "xtgtd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const iqn = "iqn.2026-11.dev.xtgt:aptpl"
	cfg := filepath.Join(dir, "xtgtd.yaml")
	conf := fmt.Sprintf("portals: [%q]\ntargets:\n  - name: %s\n    luns:\n      - backing: file:%s:64M\n",
		addr, iqn, filepath.Join(dir, "lun0.img"))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", cfg, "--admin-socket", "", "--log-level", "warn"}
	const key = 0x1122334455667788
	session := func() *initiator.Session {
		s, err := initiator.Dial(context.Background(), initiator.Options{Address: addr, TargetName: iqn})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	d := startBuilt(t, bin, addr, args...)
	s := session()
	param := make([]byte, 24)
	binary.BigEndian.PutUint64(param[8:], key) // service action reservation key
	param[20] = 1                              // APTPL
	register := []byte{0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0}
	if r := doUA(t, s, register, param, nil); r.Status != 0 {
		t.Fatalf("PR OUT REGISTER APTPL: status %#x sense %+v", r.Status, r.Sense)
	}
	resv := make([]byte, 24)
	binary.BigEndian.PutUint64(resv[0:], key)
	reserve := []byte{0x5f, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0} // RESERVE, type 1 (write exclusive)
	if r := doUA(t, s, reserve, resv, nil); r.Status != 0 {
		t.Fatalf("PR OUT RESERVE: status %#x sense %+v", r.Status, r.Sense)
	}
	_ = s.Close()
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Fatalf("xtgtd exit after SIGTERM: %v", err)
	}

	startBuilt(t, bin, addr, args...)
	s = session()
	defer s.Close()
	in := make([]byte, 64)
	readKeys := []byte{0x5e, 0x00, 0, 0, 0, 0, 0, 0, 64, 0}
	if r := doUA(t, s, readKeys, nil, in); r.Status != 0 {
		t.Fatalf("PR IN READ KEYS: status %#x", r.Status)
	}
	if n := binary.BigEndian.Uint32(in[4:]); n != 8 || binary.BigEndian.Uint64(in[8:]) != key {
		t.Fatalf("READ KEYS after restart: length %d key %#x, want one key %#x", n, binary.BigEndian.Uint64(in[8:]), uint64(key))
	}
	readResv := []byte{0x5e, 0x01, 0, 0, 0, 0, 0, 0, 64, 0}
	clear(in)
	if r := doUA(t, s, readResv, nil, in); r.Status != 0 {
		t.Fatalf("PR IN READ RESERVATION: status %#x", r.Status)
	}
	if n := binary.BigEndian.Uint32(in[4:]); n != 16 || binary.BigEndian.Uint64(in[8:]) != key || in[21]&0x0f != 1 {
		t.Fatalf("READ RESERVATION after restart: length %d key %#x type %d", n, binary.BigEndian.Uint64(in[8:]), in[21]&0xf)
	}
}
