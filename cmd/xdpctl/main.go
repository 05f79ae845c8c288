// Command xdpctl attaches, inspects and steers xtgt's XDP classifier.
//
//	xdpctl [-n NETNS] attach --dev IFACE [--mode native|generic|auto] [--port 3260 ...] [--addr IP ...] [--force]
//	xdpctl [-n NETNS] detach --dev IFACE
//	xdpctl [-n NETNS] status [--dev IFACE] [-j]
//	xdpctl [-n NETNS] rule add|del --dev IFACE --addr IP|any --port N
//	xdpctl [-n NETNS] stats --dev IFACE [--watch 1s] [--count N]
//
// Objects are pinned under /sys/fs/bpf/xtgt/IFACE/ (see package bpf), where
// the daemon finds them too. -n NETNS runs in the named network namespace
// (/run/netns/NETNS), like `ip -n`.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
