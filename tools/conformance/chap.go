package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// chapChecks runs libiscsi's iscsi-inq against a CHAP-protected target: one-way and mutual CHAP with the right
// secrets must log in; a wrong initiator secret, or a wrong expectation of the target's secret, must fail.
func chapChecks(bin string, port int, out string) error {
	const iqn = "iqn.2026-11.dev.xtgt:chap"
	cfg := fmt.Sprintf(`portals: ["127.0.0.1:%d"]
log_level: info
targets:
  - name: %s
    chap: {user: alice, secret: "alice#secret-12"}
    mutual_chap: {user: xtgt, secret: "target-secret-34"}
    luns:
      - backing: ram:16M
`, port, iqn)
	cfgPath := filepath.Join(out, "chap.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	d, err := startDaemon(bin, []string{"--config", cfgPath}, filepath.Join(out, "xtgtd-chap.log"), port)
	if err != nil {
		return err
	}
	defer d.stop()
	url := func(user, pw string) string {
		return fmt.Sprintf("iscsi://%s%%%s@127.0.0.1:%d/%s/0", user, pw, port, iqn)
	}
	checks := []struct {
		name         string
		url          string
		tUser, tPass string
		wantSuccess  bool
	}{
		{"one-way CHAP, right secret", url("alice", "alice#secret-12"), "", "", true},
		{"mutual CHAP, right secrets", url("alice", "alice#secret-12"), "xtgt", "target-secret-34", true},
		{"one-way CHAP, wrong secret", url("alice", "wrong-secret-99"), "", "", false},
		{"mutual CHAP, wrong target secret", url("alice", "alice#secret-12"), "xtgt", "not-the-target-1", false},
		{"no credentials", fmt.Sprintf("iscsi://127.0.0.1:%d/%s/0", port, iqn), "", "", false},
	}
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, "iscsi-inq", c.url)
		cmd.Env = os.Environ()
		if c.tUser != "" {
			cmd.Env = append(cmd.Env, "LIBISCSI_CHAP_TARGET_USERNAME="+c.tUser, "LIBISCSI_CHAP_TARGET_PASSWORD="+c.tPass)
		}
		outb, err := cmd.CombinedOutput()
		cancel()
		ok := err == nil
		if ok != c.wantSuccess {
			return fmt.Errorf("CHAP check %q: login succeeded=%v, want %v\n%s", c.name, ok, c.wantSuccess, outb)
		}
		fmt.Printf("ok   iscsi-inq: %s (login %s)\n", c.name, map[bool]string{true: "succeeds", false: "refused"}[ok])
	}
	return nil
}
