//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// steer.c: XDP classifier of the xtgt fast path.
//
// Parses Ethernet (up to two 802.1Q/802.1ad tags), IPv4 (with options) or
// IPv6 (fixed header only), and TCP; looks up (destination address,
// destination port) in the steering rules, first exactly and then with the
// wildcard address; redirects a match to the AF_XDP socket registered for
// the receive queue, falling back to XDP_PASS when none is. Everything else
// goes to the kernel untouched. Frames whose headers are inconsistent are
// counted as malformed and passed (the kernel drops them as it would
// without us).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAX_RULES 1024
#define MAX_QUEUES 64
#define MAX_VLAN_TAGS 2

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

// Verdict counter indices (also in Go: bpf/steering.go).
enum verdict {
	VERDICT_PASSED = 0,     // not ours: handed to the kernel
	VERDICT_REDIRECTED = 1, // matched a rule and went to an AF_XDP socket
	VERDICT_NO_SOCKET = 2,  // matched a rule, no socket on this queue: passed
	VERDICT_MALFORMED = 3,  // inconsistent headers: passed
	VERDICT_MAX = 4,
};

// Rule key: destination address as 16 bytes (IPv4 as ::ffff:a.b.c.d, the
// wildcard as all zeroes) and destination TCP port in network byte order.
struct rule_key {
	__u8 addr[16];
	__be16 port;
	__u16 pad;
};

// Per-rule, per-CPU counters of matched frames.
struct rule_stats {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MAX_RULES);
	__type(key, struct rule_key);
	__type(value, struct rule_stats);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VERDICT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

// Registration book-keeping for operators: the XSKMAP cannot be read from
// user space, so the registering process records its pid per queue here.
// The program never reads it.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} queues SEC(".maps");

static __always_inline int count(enum verdict v, int action)
{
	__u32 key = v;
	__u64 *n = bpf_map_lookup_elem(&verdicts, &key);
	if (n)
		*n += 1;
	return action;
}

static __always_inline int steer(struct xdp_md *ctx, struct rule_key *key,
				 __u64 len)
{
	struct rule_stats *st = bpf_map_lookup_elem(&rules, key);
	if (!st) {
		__builtin_memset(key->addr, 0, sizeof(key->addr));
		st = bpf_map_lookup_elem(&rules, key);
		if (!st)
			return count(VERDICT_PASSED, XDP_PASS);
	}
	st->packets++;
	st->bytes += len;

	int action = bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
	if (action == XDP_REDIRECT)
		return count(VERDICT_REDIRECTED, action);
	return count(VERDICT_NO_SOCKET, XDP_PASS);
}

// xdp.frags: the program handles multi-buffer packets (it reads headers only,
// which are in the first buffer), so jumbo MTUs stay possible with it
// attached (a veth refuses an MTU above about 3.5 KiB under a program that
// cannot).
SEC("xdp.frags")
int xtgt_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = bpf_xdp_get_buff_len(ctx);
	struct rule_key key = {};

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return count(VERDICT_MALFORMED, XDP_PASS);
	void *cur = eth + 1;
	__be16 proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		// struct vlan_hdr: TCI then encapsulated protocol.
		__be16 *vh = cur;
		if ((void *)(vh + 2) > data_end)
			return count(VERDICT_MALFORMED, XDP_PASS);
		proto = vh[1];
		cur = vh + 2;
	}
	// A third tag is more than any iSCSI portal uses: not ours, and the
	// kernel decides what to make of it.
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return count(VERDICT_MALFORMED, XDP_PASS);

	struct tcphdr *tcp;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cur;
		if ((void *)(ip + 1) > data_end)
			return count(VERDICT_MALFORMED, XDP_PASS);
		if (ip->version != 4 || ip->ihl < 5)
			return count(VERDICT_MALFORMED, XDP_PASS);
		__u32 hlen = (__u32)ip->ihl * 4;
		if (bpf_ntohs(ip->tot_len) < hlen)
			return count(VERDICT_MALFORMED, XDP_PASS);
		if (cur + hlen > data_end)
			return count(VERDICT_MALFORMED, XDP_PASS);
		if (ip->protocol != IPPROTO_TCP)
			return count(VERDICT_PASSED, XDP_PASS);
		// Fragments carry no (or not only) a TCP header: reassembly is
		// the kernel's.
		if (ip->frag_off & bpf_htons(0x3fff))
			return count(VERDICT_PASSED, XDP_PASS);
		key.addr[10] = 0xff;
		key.addr[11] = 0xff;
		__builtin_memcpy(&key.addr[12], &ip->daddr, 4);
		tcp = cur + hlen;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cur;
		if ((void *)(ip6 + 1) > data_end)
			return count(VERDICT_MALFORMED, XDP_PASS);
		if (ip6->version != 6)
			return count(VERDICT_MALFORMED, XDP_PASS);
		// Extension headers are left to the kernel.
		if (ip6->nexthdr != IPPROTO_TCP)
			return count(VERDICT_PASSED, XDP_PASS);
		__builtin_memcpy(key.addr, &ip6->daddr, 16);
		// An IPv4-mapped destination never belongs on the wire (RFC
		// 4291 §2.5.5.2) and would alias an IPv4 rule.
		if (key.addr[0] == 0 && key.addr[1] == 0 && key.addr[2] == 0 &&
		    key.addr[3] == 0 && key.addr[4] == 0 && key.addr[5] == 0 &&
		    key.addr[6] == 0 && key.addr[7] == 0 && key.addr[8] == 0 &&
		    key.addr[9] == 0 && key.addr[10] == 0xff &&
		    key.addr[11] == 0xff)
			return count(VERDICT_PASSED, XDP_PASS);
		tcp = (void *)(ip6 + 1);
	} else {
		return count(VERDICT_PASSED, XDP_PASS);
	}

	if ((void *)(tcp + 1) > data_end)
		return count(VERDICT_MALFORMED, XDP_PASS);
	if (tcp->doff < 5 || (void *)tcp + (__u32)tcp->doff * 4 > data_end)
		return count(VERDICT_MALFORMED, XDP_PASS);
	key.port = tcp->dest;
	return steer(ctx, &key, len);
}

char __license[] SEC("license") = "Dual BSD/GPL";
