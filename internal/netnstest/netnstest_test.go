package netnstest

import (
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func TestUniqueName(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := UniqueName()
		if len(n) > 15 || !strings.HasPrefix(n, "xt") || seen[n] {
			t.Fatalf("bad or repeated name %q", n)
		}
		seen[n] = true
	}
}

func TestPairTCPAndCleanup(t *testing.T) {
	RequireRoot(t)
	var names []string
	t.Run("pair", func(t *testing.T) {
		p := NewPair(t, PairConfig{})
		names = []string{p.A.Name, p.B.Name}
		var ln net.Listener
		p.A.Run(t, func() (err error) {
			ln, err = net.Listen("tcp", netip.AddrPortFrom(p.AddrA.Addr(), 0).String())
			return err
		})
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte("hello"))
				c.Close()
			}
		}()
		p.B.Run(t, func() error {
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			b, err := io.ReadAll(c)
			if string(b) != "hello" {
				t.Errorf("read %q, %v", b, err)
			}
			return nil
		})
		// The veth end is not visible in the caller's namespace.
		if _, err := netlink.LinkByName(p.IfA); err == nil {
			t.Errorf("%s visible in the test's own namespace", p.IfA)
		}
		if out, err := p.B.Command("ip", "-br", "addr", "show", p.IfB).CombinedOutput(); err != nil || !strings.Contains(string(out), "10.99.0.2") {
			t.Errorf("nsenter ip addr: %s %v", out, err)
		}
	})
	for _, n := range names {
		if _, err := os.Stat("/run/netns/" + n); err == nil {
			t.Errorf("namespace %s left behind", n)
		}
	}
}
