package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/vishvananda/netlink"

	"github.com/xtgt/xtgt/bpf"
	"github.com/xtgt/xtgt/internal/netnstest"
)

func xdpctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func mustXdpctl(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := xdpctl(t, args...)
	if code != 0 {
		t.Fatalf("xdpctl %s: exit %d: %s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"attach"}, {"rule"}, {"rule", "add", "--dev", "x", "--port", "0"}, {"attach", "--dev", "x", "--mode", "turbo"}} {
		if _, _, code := xdpctl(t, args...); code == 0 {
			t.Errorf("xdpctl %v succeeded", args)
		}
	}
}

// xdpState returns the XDP program id attached to dev in namespace ns (0:
// none).
func xdpState(t *testing.T, ns *netnstest.NS, dev string) (id uint32) {
	t.Helper()
	ns.Run(t, func() error {
		l, err := netlink.LinkByName(dev)
		if err != nil {
			return err
		}
		if x := l.Attrs().Xdp; x != nil && x.Attached {
			id = x.ProgId
		}
		return nil
	})
	return id
}

func TestAttachLifecycle(t *testing.T) {
	netnstest.RequireRoot(t)
	root := filepath.Join(bpf.DefaultPinRoot, "test-"+netnstest.UniqueName())
	t.Cleanup(func() { os.RemoveAll(root) })
	p := netnstest.NewPair(t, netnstest.PairConfig{})
	ns, dev := p.A.Name, p.IfA
	base := []string{"-n", ns, "--pin-root", root}
	x := func(args ...string) string { return mustXdpctl(t, append(base, args...)...) }
	t.Cleanup(func() { xdpctl(t, append(base, "detach", "--dev", dev)...) })

	if _, errs, code := xdpctl(t, append(base, "attach", "--dev", "nosuchdev0")...); code == 0 || !strings.Contains(errs, "no such device") {
		t.Errorf("attach to a missing device: exit %d, %q", code, errs)
	}

	out := x("attach", "--dev", dev, "--mode", "native", "--port", "3260", "--addr", "10.99.0.1", "--addr", "any")
	if !strings.HasPrefix(out, "attached") || !strings.Contains(out, "native") {
		t.Fatalf("attach said %q", out)
	}
	id := xdpState(t, p.A, dev)
	if id == 0 {
		t.Fatal("no XDP program on the device after attach")
	}
	out = x("attach", "--dev", dev, "--port", "860")
	if !strings.HasPrefix(out, "already attached") || xdpState(t, p.A, dev) != id {
		t.Fatalf("second attach: %q, program %d (was %d)", out, xdpState(t, p.A, dev), id)
	}
	x("rule", "add", "--dev", dev, "--addr", "fd00::1", "--port", "3261")
	x("rule", "del", "--dev", dev, "--addr", "any", "--port", "3260")
	if _, errs, code := xdpctl(t, append(base, "rule", "del", "--dev", dev, "--addr", "any", "--port", "3260")...); code == 0 || !strings.Contains(errs, "no such rule") {
		t.Errorf("deleting a missing rule: exit %d %q", code, errs)
	}

	var st bpf.Status
	if err := json.Unmarshal([]byte(x("status", "--dev", dev, "-j")), &st); err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, r := range st.Rules {
		rules = append(rules, r.Match)
	}
	if got, want := strings.Join(rules, " "), "any:860 10.99.0.1:3260 [fd00::1]:3261"; got != want {
		t.Errorf("rules %q, want %q", got, want)
	}
	if st.ProgramID != id || st.Mode != "native" || st.Dev != dev {
		t.Errorf("status %+v, want program %d native on %s", st, id, dev)
	}
	if out := x("status"); !strings.Contains(out, dev) || !strings.Contains(out, "10.99.0.1:3260") {
		t.Errorf("status of all devices: %q", out)
	}
	if out := x("stats", "--dev", dev, "--watch", "10ms", "--count", "2"); strings.Count(out, "\n") != 3 {
		t.Errorf("stats --watch printed %q", out)
	}

	dir := st.PinDir
	if _, err := os.Stat(filepath.Join(dir, "link")); err != nil {
		t.Fatalf("link pin: %v", err)
	}
	x("detach", "--dev", dev)
	if got := xdpState(t, p.A, dev); got != 0 {
		t.Errorf("program %d still attached after detach", got)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pins left after detach: %v", err)
	}
	// The kernel frees the program after an RCU grace period.
	gone := false
	for i := 0; i < 100 && !gone; i++ {
		prog, err := ebpf.NewProgramFromID(ebpf.ProgramID(id))
		if gone = err != nil; !gone {
			prog.Close()
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !gone {
		t.Errorf("program %d still exists 2s after detach", id)
	}
	if _, errs, code := xdpctl(t, append(base, "detach", "--dev", dev)...); code == 0 || !strings.Contains(errs, "not attached") {
		t.Errorf("second detach: exit %d %q", code, errs)
	}
}

func TestForeignProgram(t *testing.T) {
	netnstest.RequireRoot(t)
	root := filepath.Join(bpf.DefaultPinRoot, "test-"+netnstest.UniqueName())
	t.Cleanup(func() { os.RemoveAll(root) })
	p := netnstest.NewPair(t, netnstest.PairConfig{})
	base := []string{"-n", p.A.Name, "--pin-root", root}
	t.Cleanup(func() { xdpctl(t, append(base, "detach", "--dev", p.IfA)...) })

	foreign, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.XDP, License: "MIT",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	p.A.Run(t, func() error {
		l, err := netlink.LinkByName(p.IfA)
		if err != nil {
			return err
		}
		return netlink.LinkSetXdpFdWithFlags(l, foreign.FD(), 1<<1 /* generic */)
	})
	fid := xdpState(t, p.A, p.IfA)
	if fid == 0 {
		t.Fatal("foreign program not attached")
	}
	_, errs, code := xdpctl(t, append(base, "attach", "--dev", p.IfA, "--port", "3260")...)
	if code == 0 || !strings.Contains(errs, "--force") || xdpState(t, p.A, p.IfA) != fid {
		t.Fatalf("attach over a foreign program: exit %d %q, program now %d (foreign %d)", code, errs, xdpState(t, p.A, p.IfA), fid)
	}
	out := mustXdpctl(t, append(base, "attach", "--dev", p.IfA, "--port", "3260", "--force")...)
	if id := xdpState(t, p.A, p.IfA); id == 0 || id == fid || !strings.HasPrefix(out, "attached") {
		t.Fatalf("--force: %q, program %d (foreign %d)", out, id, fid)
	}
}

func TestGenericModeOnLoopback(t *testing.T) {
	netnstest.RequireRoot(t)
	root := filepath.Join(bpf.DefaultPinRoot, "test-"+netnstest.UniqueName())
	t.Cleanup(func() { os.RemoveAll(root) })
	ns := netnstest.New(t, 1)[0]
	dev := "lo" // no native XDP on loopback
	base := []string{"-n", ns.Name, "--pin-root", root}
	t.Cleanup(func() { xdpctl(t, append(base, "detach", "--dev", dev)...) })
	// Loopback has no native XDP: the error says so and suggests
	// generic mode; auto falls back to it.
	_, errs, code := xdpctl(t, append(base, "attach", "--dev", dev, "--mode", "native")...)
	if code == 0 || !strings.Contains(errs, "generic") {
		t.Errorf("native attach on lo: exit %d %q", code, errs)
	}
	if out := mustXdpctl(t, append(base, "attach", "--dev", dev)...); !strings.Contains(out, "generic") {
		t.Errorf("auto attach on lo: %q", out)
	}
	mustXdpctl(t, append(base, "detach", "--dev", dev)...)
}
