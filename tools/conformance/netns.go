package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"time"
)

// netns says where the daemon and the initiators run: the current network namespace by default, or named
// namespaces (entered with nsenter, which keeps /sys and so the bpffs pins shared, unlike ip netns exec).
var netns struct {
	target, client, host, xdpIface string
}

func nsCommand(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, name, args...)
	}
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + ns, "--", name}, args...)...)
}

// reachable reports whether something accepts TCP connections on host:port, as seen from the client side.
func reachable(port int) bool {
	addr := net.JoinHostPort(netns.host, fmt.Sprint(port))
	if netns.client == "" {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	script := fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", netns.host, port)
	return nsCommand(ctx, netns.client, "bash", "-c", script).Run() == nil
}
