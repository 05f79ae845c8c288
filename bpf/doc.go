// Package bpf holds xtgt's XDP classifier (steer.c), its committed bpf2go
// bindings, and the Go API that attaches, inspects and steers it. The same API
// serves cmd/xdpctl and the daemon, so both find the same pinned objects.
//
// The classifier parses Ethernet (IEEE 802.3), up to two IEEE 802.1Q/802.1ad
// VLAN tags, IPv4 (RFC 791, header options skipped via IHL; fragments passed),
// IPv6 (RFC 8200 fixed header; extension headers passed) and TCP (RFC 9293
// §3.1, data offset checked). A frame whose (destination address,
// destination port) matches a steering rule — exactly, or with the wildcard
// address — is redirected with bpf_redirect_map to the AF_XDP socket that is
// registered in the XSKMAP for its receive queue; with no socket there it is
// passed (XDP_PASS fallback) and counted as "no-socket". Everything else,
// ARP, ICMP and other TCP ports included, is passed untouched. Frames with
// inconsistent headers are passed and counted as malformed, never
// redirected.
//
// Objects are pinned under <root>/<dir>/ where root defaults to
// /sys/fs/bpf/xtgt (bpffs is mounted there if /sys/fs/bpf is not bpffs) and
// dir is the interface name, suffixed with "@ns<inode>" when the caller is
// not in the initial network namespace (two namespaces may both have an
// "eth0"):
//
//	prog    the XDP program
//	link    the bpf_link that keeps it attached (it outlives the process)
//	rules   PERCPU_HASH (address, port) -> per-CPU {packets, bytes}
//	verdicts PERCPU_ARRAY of passed, redirected, no-socket, malformed
//	xsks    XSKMAP queue -> AF_XDP socket
//	queues  ARRAY queue -> pid of the registering process (the XSKMAP cannot
//	        be read from user space)
//
// All functions act on the network namespace of the calling OS thread.
package bpf
