package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testIQN = "iqn.2026-11.dev.xtgt:adm"

// startXtgtd builds cmd/xtgtd and runs it with a config file and an admin socket in a temp dir.
func startXtgtd(t *testing.T) (socket, cfgPath string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool to build xtgtd")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "xtgtd")
	if out, err := exec.Command(gobin, "build", "-o", bin, "../xtgtd").CombinedOutput(); err != nil {
		t.Fatalf("build xtgtd: %v\n%s", err, out)
	}
	cfgPath = filepath.Join(dir, "xtgtd.yaml")
	if err := os.WriteFile(cfgPath, []byte("portals: ['127.0.0.1:0']\ntargets:\n  - name: "+testIQN+
		"\n    luns:\n      - backing: ram:64M\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	socket = filepath.Join(dir, "admin.sock")
	var log bytes.Buffer
	cmd := exec.Command(bin, "--config", cfgPath, "--admin-socket", socket)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("xtgtd log:\n%s", log.String())
		}
	})
	for range 500 {
		if _, err := os.Stat(socket); err == nil {
			return socket, cfgPath
		}
		select {
		case <-exited:
			t.Fatalf("xtgtd exited:\n%s", log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("xtgtd did not open its admin socket:\n%s", log.String())
	return
}

func adm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(args, &out)
	return out.String(), err
}

func TestAgainstLiveDaemon(t *testing.T) {
	sock, cfgPath := startXtgtd(t)
	steps := []struct {
		args []string
		want []string // substrings of the output (or of the error when fail)
		fail bool
	}{
		{[]string{"targets"}, []string{"TARGET", testIQN, "ram:64M", "64M", "512", "write-back", "open"}, false},
		{[]string{"lun", "add", "--target", testIQN, "--backing", "ram:8M", "--read-only"}, []string{"lun 1: done", "saved"}, false},
		{[]string{"lun", "add", "--target", testIQN, "--backing", "ram:4M", "--number", "5", "--write-back=false"}, []string{"lun 5: done"}, false},
		{[]string{"targets"}, []string{"ram:8M", " ro ", "ram:4M", "write-through"}, false},
		{[]string{"-j", "targets"}, []string{`"number": 5`, `"read_only": true`}, false},
		{[]string{"sessions"}, []string{"TSIH", "INITIATOR"}, false},
		{[]string{"lun", "remove", "--target", testIQN, "--number", "1"}, []string{"lun 1: done"}, false},
		{[]string{"lun", "remove", "--target", testIQN, "--number", "1"}, []string{"no lun 1"}, true},
		{[]string{"lun", "add", "--target", "iqn.nope", "--backing", "ram:1M"}, []string{"target \"iqn.nope\""}, true},
		{[]string{"lun", "add", "--target", testIQN}, []string{"--backing"}, true},
		{[]string{"reload"}, []string{"no changes"}, false},
		{[]string{"frobnicate"}, []string{"unknown command", "usage"}, true},
	}
	for _, st := range steps {
		out, err := adm(t, append([]string{"--socket", sock}, st.args...)...)
		got := out
		if err != nil {
			got = err.Error()
		}
		if (err != nil) != st.fail {
			t.Errorf("xtgtadm %v: err %v, output:\n%s", st.args, err, out)
			continue
		}
		for _, w := range st.want {
			if !strings.Contains(got, w) {
				t.Errorf("xtgtadm %v: %q missing from:\n%s", st.args, w, got)
			}
		}
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, "ram:4M") || strings.Contains(s, "ram:8M") {
		t.Errorf("config file after the changes:\n%s", s)
	}
}

func TestNoDaemon(t *testing.T) {
	_, err := adm(t, "--socket", filepath.Join(t.TempDir(), "none.sock"), "targets")
	if err == nil || !strings.Contains(err.Error(), "is xtgtd running with --admin-socket?") {
		t.Errorf("error = %v", err)
	}
}

func TestHumanSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{512, "512"}, {1 << 20, "1M"}, {3 << 30, "3G"}, {1<<30 + 512, "1073742336"}, {1536 << 10, "1536K"}} {
		if got := humanSize(tc.n); got != tc.want {
			t.Errorf("humanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
