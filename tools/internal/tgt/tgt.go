// Package tgt starts Debian's tgtd (the C userspace iSCSI target) as a baseline peer for xtgt's conformance and
// benchmark runs: one target with one LUN backed by a file in /dev/shm (tgt's RAM-backed configuration).
package tgt

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// IQN is the baseline target's name; its disk is LUN 1 (tgt's LUN 0 is the controller).
const IQN = "iqn.2026-11.dev.xtgt:tgt-baseline"

// Daemon is a running tgtd.
type Daemon struct {
	cmd  *exec.Cmd
	ctl  string
	img  string
	Addr string
	PID  int
}

// URL is the iscsi:// URL of the baseline LUN.
func (d *Daemon) URL() string { return "iscsi://" + d.Addr + "/" + IQN + "/1" }

// Start runs tgtd on addr (host:port) with control port ctl (tgtd accepts small numbers only) and a size-byte LUN.
func Start(addr string, ctl int, size int64) (*Daemon, error) {
	if _, err := exec.LookPath("tgtd"); err != nil {
		return nil, errors.New("tgtd not installed (apt-get install tgt)")
	}
	d := &Daemon{Addr: addr, ctl: strconv.Itoa(ctl), img: fmt.Sprintf("/dev/shm/xtgt-tgt-%d.img", ctl)}
	if err := os.WriteFile(d.img, nil, 0o600); err != nil {
		return nil, err
	}
	if err := os.Truncate(d.img, size); err != nil {
		return nil, err
	}
	d.cmd = exec.Command("tgtd", "-f", "-C", d.ctl, "--iscsi", "portal="+addr)
	if err := d.cmd.Start(); err != nil {
		os.Remove(d.img)
		return nil, fmt.Errorf("start tgtd: %w", err)
	}
	d.PID = d.cmd.Process.Pid
	up := false
	for i := 0; i < 100 && !up; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			up = true
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !up {
		d.Stop()
		return nil, fmt.Errorf("tgtd: nothing listening on %s after 5s", addr)
	}
	for _, a := range [][]string{
		{"--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN},
		{"--lld", "iscsi", "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", d.img, "--bstype", "rdwr"},
		{"--lld", "iscsi", "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"},
	} {
		if out, err := exec.Command("tgtadm", append([]string{"-C", d.ctl}, a...)...).CombinedOutput(); err != nil {
			d.Stop()
			return nil, fmt.Errorf("tgtadm %v: %w: %s", a, err, out)
		}
	}
	return d, nil
}

// Alive reports whether tgtd is still running.
func (d *Daemon) Alive() bool {
	return d.cmd.ProcessState == nil && d.cmd.Process.Signal(syscall.Signal(0)) == nil
}

// Stop ends tgtd and removes its backing file.
func (d *Daemon) Stop() {
	_ = exec.Command("tgtadm", "-C", d.ctl, "--op", "delete", "--mode", "system").Run()
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	os.Remove(d.img)
}
