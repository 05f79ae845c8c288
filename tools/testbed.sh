# Sourced by tools/*.sh: a veth pair between two fresh network namespaces, removed (with any XDP program and
# bpffs pins on the target side) on exit. Set T, C (namespace names), VT, VC (veth ends), TA, CA (addresses)
# before calling testbed_up; add cleanup of your own to testbed_extra_cleanup.
testbed_extra_cleanup() { :; }
testbed_cleanup() {
	testbed_extra_cleanup
	ip netns pids "$T" 2>/dev/null | xargs -r kill 2>/dev/null || true
	nsenter --net=/run/netns/$T ip link set dev "$VT" xdp off 2>/dev/null || true
	rm -rf "/sys/fs/bpf/xtgt/$VT"* 2>/dev/null || true
	ip netns del "$T" 2>/dev/null || true
	ip netns del "$C" 2>/dev/null || true
}
testbed_up() {
	trap testbed_cleanup EXIT
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	ip netns add "$T"
	ip netns add "$C"
	ip link add "$VT" netns "$T" type veth peer name "$VC" netns "$C"
	ip -n "$T" addr add "$TA/24" dev "$VT"
	ip -n "$C" addr add "$CA/24" dev "$VC"
	for ns in "$T" "$C"; do ip -n "$ns" link set lo up; done
	ip -n "$T" link set "$VT" up
	ip -n "$C" link set "$VC" up
}
