package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultPinRoot is where the steering objects of each interface are pinned.
const DefaultPinRoot = "/sys/fs/bpf/xtgt"

// bpffsMount is where bpffs is mounted when missing.
const bpffsMount = "/sys/fs/bpf"

// EnsureBPFFS makes sure the directory root lives on a bpffs, mounting one on
// /sys/fs/bpf when root is below it and it is not bpffs yet.
func EnsureBPFFS(root string) error {
	if isBPFFS(root) {
		return nil
	}
	if !strings.HasPrefix(filepath.Clean(root)+"/", bpffsMount+"/") {
		if parent := existingParent(root); isBPFFS(parent) {
			return nil
		}
		return fmt.Errorf("pin root %s is not on a bpffs", root)
	}
	if !isBPFFS(bpffsMount) {
		if err := os.MkdirAll(bpffsMount, 0o755); err != nil {
			return fmt.Errorf("mount bpffs: %w", err)
		}
		if err := unix.Mount("bpf", bpffsMount, "bpf", 0, "mode=0700"); err != nil {
			return fmt.Errorf("mount bpffs on %s: %w", bpffsMount, err)
		}
	}
	return nil
}

func isBPFFS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.BPF_FS_MAGIC
}

func existingParent(p string) string {
	for p = filepath.Clean(p); p != "/"; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/"
}

// PinDir returns the directory holding the pins of interface ifname in the
// calling thread's network namespace.
func PinDir(root, ifname string) (string, error) {
	if root == "" {
		root = DefaultPinRoot
	}
	if ifname == "" || strings.ContainsAny(ifname, "/\x00") || ifname == "." || ifname == ".." {
		return "", fmt.Errorf("bad interface name %q", ifname)
	}
	self, err := nsInode("/proc/thread-self/ns/net")
	if err != nil {
		return "", err
	}
	init, err := nsInode("/proc/1/ns/net")
	if err != nil || init == self {
		// Without access to pid 1's namespace we cannot tell; the plain
		// name is what an operator expects.
		return filepath.Join(root, ifname), nil
	}
	return filepath.Join(root, fmt.Sprintf("%s@ns%d", ifname, self)), nil
}

func nsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("network namespace of %s: %w", path, err)
	}
	return st.Ino, nil
}

// removePins removes every pin in dir, then dir, then root when empty.
func removePins(root, dir string) error {
	var errs []error
	for _, name := range pinNames {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	_ = os.Remove(root) // only succeeds when empty
	return errors.Join(errs...)
}

const (
	pinProg     = "prog"
	pinLink     = "link"
	pinRules    = "rules"
	pinVerdicts = "verdicts"
	pinXSKs     = "xsks"
	pinQueues   = "queues"
)

var pinNames = []string{pinLink, pinProg, pinRules, pinVerdicts, pinXSKs, pinQueues}
