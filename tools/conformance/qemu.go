package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// qemuCheck copies a 64 MiB random image onto the LUN with QEMU's iSCSI driver and compares it back: an
// independent initiator moving real data. It needs qemu-img with the iscsi block driver (qemu-block-extra); the
// LUN must still be all zeros past 64 MiB.
func qemuCheck(url, out string) error {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		fmt.Println("skip qemu-img: not installed")
		return nil
	}
	src := filepath.Join(out, "qemu-src.raw")
	buf := make([]byte, 64<<20)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	if err := os.WriteFile(src, buf, 0o600); err != nil {
		return err
	}
	defer os.Remove(src)
	for _, args := range [][]string{
		{"convert", "-n", "-f", "raw", "-O", "raw", src, url},
		{"compare", "-f", "raw", "-F", "raw", src, url},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		b, err := nsCommand(ctx, netns.client, "qemu-img", args...).CombinedOutput()
		cancel()
		if err != nil {
			if strings.Contains(string(b), "Unknown protocol") || strings.Contains(string(b), "iscsi") && strings.Contains(string(b), "not supported") {
				fmt.Println("skip qemu-img: no iscsi block driver (apt-get install qemu-block-extra)")
				return nil
			}
			return fmt.Errorf("qemu-img %s: %w\n%s", strings.Join(args, " "), err, b)
		}
		fmt.Printf("ok   qemu-img %s\n", args[0])
	}
	return nil
}
