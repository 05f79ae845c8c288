package main

import (
	"github.com/xtgt/xtgt/internal/adminapi"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const twoTargets = `
targets:
  - name: ` + iqnA + `
    luns:
      - backing: ram:16M
  - name: ` + iqnB + `
    luns:
      - backing: ram:16M
`

func TestReloadAddsLUNWhileSessionDoesIO(t *testing.T) {
	td := startTest(t, twoTargets)
	s := td.dial(t, iqnA, "iqn.2026-11.test:one")
	if got := reportLUNs(t, s); !slices.Equal(got, []uint64{0}) {
		t.Fatalf("REPORT LUNS before reload = %v, want [0]", got)
	}
	stop := startIO(t, s)
	time.Sleep(50 * time.Millisecond)
	writeConfig(t, td.cfgPath, `
targets:
  - name: `+iqnA+`
    luns:
      - backing: ram:16M
      - backing: ram:8M
  - name: `+iqnB+`
    luns:
      - backing: ram:32M # changed: re-created
`)
	changes, err := td.reload()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"target " + iqnA + " lun 1 added", "target " + iqnB + " lun 0 changed"}
	if !slices.Equal(changes, want) {
		t.Errorf("changes = %q, want %q", changes, want)
	}
	time.Sleep(50 * time.Millisecond)
	stop()
	if !alive(s) {
		t.Fatal("the existing session dropped")
	}
	// The existing session and a new one both see LUN 1.
	if got := reportLUNs(t, s); !slices.Equal(got, []uint64{0, 1}) {
		t.Errorf("REPORT LUNS on the existing session = %v, want [0 1]", got)
	}
	s2 := td.dial(t, iqnA, "iqn.2026-11.test:two")
	if got := reportLUNs(t, s2); !slices.Equal(got, []uint64{0, 1}) {
		t.Errorf("REPORT LUNS on a new session = %v, want [0 1]", got)
	}
	var blocks uint64
	if err := retryUA(func() (err error) { blocks, _, err = s2.ReadCapacity(t.Context(), 1); return err }); err != nil {
		t.Fatal(err)
	}
	if blocks != 8<<20/512 {
		t.Errorf("new LUN 1 has %d blocks, want %d", blocks, 8<<20/512)
	}
	sb := td.dial(t, iqnB, "iqn.2026-11.test:one")
	if err := retryUA(func() (err error) { blocks, _, err = sb.ReadCapacity(t.Context(), 0); return err }); err != nil {
		t.Fatal(err)
	}
	if blocks != 32<<20/512 {
		t.Errorf("re-created LUN has %d blocks, want %d", blocks, 32<<20/512)
	}
	// Reloading the same file changes nothing.
	if changes, err := td.reload(); err != nil || len(changes) != 0 {
		t.Errorf("second reload: changes %q, err %v", changes, err)
	}
}

func TestReloadRemovesLUNKeepsSession(t *testing.T) {
	td := startTest(t, `
targets:
  - name: `+iqnA+`
    luns:
      - backing: ram:16M
      - backing: ram:16M
`)
	s := td.dial(t, iqnA, "")
	stop := startIO(t, s)
	writeConfig(t, td.cfgPath, "targets:\n  - name: "+iqnA+"\n    luns:\n      - backing: ram:16M\n")
	if _, err := td.reload(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	stop()
	if got := reportLUNs(t, s); !slices.Equal(got, []uint64{0}) {
		t.Errorf("REPORT LUNS = %v, want [0]", got)
	}
}

func TestReloadRemovesTargetClosesOnlyItsSessions(t *testing.T) {
	td := startTest(t, twoTargets)
	sa := td.dial(t, iqnA, "iqn.2026-11.test:one")
	sb := td.dial(t, iqnB, "iqn.2026-11.test:one")
	stop := startIO(t, sa)
	writeConfig(t, td.cfgPath, "targets:\n  - name: "+iqnA+"\n    luns:\n      - backing: ram:16M\n")
	changes, err := td.reload()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changes, []string{"target " + iqnB + " removed"}) {
		t.Errorf("changes = %q", changes)
	}
	select {
	case <-sb.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the removed target's session is still open")
	}
	time.Sleep(50 * time.Millisecond)
	stop()
	if !alive(sa) {
		t.Fatal("the other target's session dropped")
	}
	if _, err := td.tryDial(iqnB, ""); err == nil {
		t.Error("login to the removed target succeeded")
	}
	for _, si := range td.srv.Sessions() {
		if si.TargetName == iqnB {
			t.Errorf("session %d of the removed target is still registered", si.TSIH)
		}
	}
}

func TestReloadACLChange(t *testing.T) {
	td := startTest(t, twoTargets)
	keep := td.dial(t, iqnA, "iqn.2026-11.test:keep")
	drop := td.dial(t, iqnA, "iqn.2026-11.test:drop")
	other := td.dial(t, iqnB, "iqn.2026-11.test:drop")
	writeConfig(t, td.cfgPath, `
targets:
  - name: `+iqnA+`
    acl:
      - initiator: iqn.2026-11.test:keep
    luns:
      - backing: ram:16M
  - name: `+iqnB+`
    luns:
      - backing: ram:16M
`)
	if _, err := td.reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-drop.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the session of an initiator removed from the ACL is still open")
	}
	if !alive(keep) || !alive(other) {
		t.Fatal("an admitted session dropped")
	}
	if err := retryUA(func() error { return keep.TestUnitReady(t.Context(), 0) }); err != nil {
		t.Errorf("admitted session: %v", err)
	}
	if _, err := td.tryDial(iqnA, "iqn.2026-11.test:drop"); err == nil {
		t.Error("an initiator outside the new ACL logged in")
	}
	td.dial(t, iqnA, "iqn.2026-11.test:keep")
}

func TestReloadRejectsBadConfig(t *testing.T) {
	td := startTest(t, twoTargets)
	s := td.dial(t, iqnA, "")
	before := td.listTargets()
	missing := filepath.Join(t.TempDir(), "no-such-dir", "disk.img")
	for _, tc := range []struct{ name, yml, want string }{
		{"yaml syntax", "targets: [", "parse config"},
		{"unknown field", "targets:\n  - name: " + iqnA + "\n    lunz: []\n", "not found"},
		{"duplicate target", strings.Repeat("targets:\n", 1) + "  - name: x\n    luns: [{backing: 'ram:1M'}]\n  - name: x\n    luns: [{backing: 'ram:1M'}]\n", "duplicate name"},
		{"duplicate lun", "targets:\n  - name: " + iqnA + "\n    luns: [{backing: 'ram:1M'}, {number: 0, backing: 'ram:1M'}]\n", "duplicate lun number"},
		{"unopenable backing", `
targets:
  - name: ` + iqnA + `
    luns:
      - backing: ram:16M
      - backing: file:` + missing + `:1M
  - name: iqn.2026-11.dev.xtgt:new
    luns:
      - backing: ram:1M
`, "lun 1"},
		{"bad backing spec", "targets:\n  - name: " + iqnA + "\n    luns: [{backing: 'tape:1'}]\n", "bad backing"},
		{"portal in use", "portals: ['" + td.addr() + "', '127.0.0.1:0']\n" + twoTargets, "address already in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeConfig(t, td.cfgPath, tc.yml)
			_, err := td.reload()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload error = %v, want it to mention %q", err, tc.want)
			}
			if after := td.listTargets(); !slices.EqualFunc(before, after, func(a, b adminapi.Target) bool {
				return a.Name == b.Name && slices.Equal(a.LUNs, b.LUNs)
			}) {
				t.Errorf("targets changed by a rejected config:\n%v\n%v", before, after)
			}
			if len(td.portalAddrs()) != 1 {
				t.Errorf("portals changed by a rejected config: %v", td.portalAddrs())
			}
			if !alive(s) {
				t.Fatal("session dropped")
			}
		})
	}
	if err := retryUA(func() error { return s.TestUnitReady(t.Context(), 0) }); err != nil {
		t.Error(err)
	}
}

func TestReloadPortals(t *testing.T) {
	td := startTest(t, twoTargets)
	first := td.addr()
	s := td.dial(t, iqnA, "")
	// Keep the first (port 0) entry, add a second listener.
	writeConfig(t, td.cfgPath, "portals: ['127.0.0.1:0', '127.0.0.2:0']\n"+twoTargets)
	if _, err := td.reload(); err != nil {
		t.Fatal(err)
	}
	addrs := td.portalAddrs()
	if len(addrs) != 2 || !slices.Contains(addrs, first) {
		t.Fatalf("portals after adding one: %v", addrs)
	}
	second := addrs[0]
	if second == first {
		second = addrs[1]
	}
	ok, err := td.tryDialAt(second, iqnB)
	if err != nil {
		t.Fatalf("login on the new portal: %v", err)
	}
	_ = ok.Close()
	// Drop the first portal: listening stops, the session accepted on it stays.
	writeConfig(t, td.cfgPath, "portals: ['127.0.0.2:0']\n"+twoTargets)
	if _, err := td.reload(); err != nil {
		t.Fatal(err)
	}
	if got := td.portalAddrs(); !slices.Equal(got, []string{second}) {
		t.Fatalf("portals = %v, want [%s]", got, second)
	}
	if _, err := td.tryDialAt(first, iqnA); err == nil {
		t.Error("login on the removed portal succeeded")
	}
	if err := retryUA(func() error { return s.TestUnitReady(t.Context(), 0) }); err != nil || !alive(s) {
		t.Errorf("session on the removed portal: %v", err)
	}
	select {
	case err := <-td.errc:
		t.Errorf("removed portal reported as failed: %v", err)
	default:
	}
}

func TestSIGHUPReloadsAndSIGTERMStops(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "xtgtd.yaml")
	writeConfig(t, cfgPath, twoTargets)
	d, err := startDaemon(options{configPath: cfgPath, targetName: defaultTarget}, testHandler)
	if err != nil {
		t.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- d.wait(sig, 5*time.Second) }()
	writeConfig(t, cfgPath, "targets:\n  - name: "+iqnA+"\n    luns: [{backing: 'ram:1M'}, {backing: 'ram:1M'}]\n")
	sig <- syscall.SIGHUP
	waitFor(t, "the reload", func() bool {
		ts := d.listTargets()
		return len(ts) == 1 && len(ts[0].LUNs) == 2
	})
	writeConfig(t, cfgPath, "targets: [")
	sig <- syscall.SIGHUP // rejected: keeps running
	sig <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
}
