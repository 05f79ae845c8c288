#!/usr/bin/env bash
# libiscsi's iscsi-test-cu from a peer network namespace against xtgtd in another, joined by a veth pair:
# once through a kernel-TCP portal and once through the AF_XDP portal (xdp:IFACE:IP:PORT, userspace TCP),
# then compares the sets of passed tests. Needs root; cleans up namespaces, XDP programs and pins on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "xdp-conformance: SKIP (needs root for namespaces and XDP)"; exit 0; fi
command -v iscsi-test-cu >/dev/null || { echo "xdp-conformance: iscsi-test-cu missing" >&2; exit 1; }
suffix=$$
T=xtT$suffix; C=xtC$suffix; VT=xvt$suffix; VC=xvc$suffix
TA=10.233.0.1; CA=10.233.0.2
OUT=${OUT:-tools/out/xdp-conformance}
cleanup() {
	ip netns pids "$T" 2>/dev/null | xargs -r kill 2>/dev/null || true
	nsenter --net=/run/netns/$T ip link set dev "$VT" xdp off 2>/dev/null || true
	rm -rf "/sys/fs/bpf/xtgt/$VT"* 2>/dev/null || true
	ip netns del "$T" 2>/dev/null || true
	ip netns del "$C" 2>/dev/null || true
}
trap cleanup EXIT
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
ip netns add "$T"; ip netns add "$C"
ip link add "$VT" netns "$T" type veth peer name "$VC" netns "$C"
ip -n "$T" addr add $TA/24 dev "$VT"; ip -n "$C" addr add $CA/24 dev "$VC"
ip -n "$T" link set lo up; ip -n "$C" link set lo up
ip -n "$T" link set "$VT" up; ip -n "$C" link set "$VC" up
# Kernel TCP on the peer: no offloads that produce frames larger than the MTU for the AF_XDP engine.
nsenter --net=/run/netns/$C ethtool -K "$VC" tso off gso off gro off 2>/dev/null || true
nsenter --net=/run/netns/$T ethtool -K "$VT" tso off gso off gro off 2>/dev/null || true
mkdir -p "$OUT"
rc=0
for kind in tcp xdp; do
	args=(-xtgtd bin/xtgtd -target-netns "$T" -client-netns "$C" -host $TA -port 3260 -out "$OUT/$kind" "$@")
	[ $kind = xdp ] && args+=(-xdp-iface "$VT")
	echo "== iscsi-test-cu through the $kind portal"
	go run ./tools/conformance "${args[@]}" > "$OUT/$kind.txt" 2>&1 || rc=1
	grep -E '^(ok|conformance:)' "$OUT/$kind.txt" || tail -5 "$OUT/$kind.txt"
done
if ! diff <(awk '/^\| (SCSI|iSCSI)\./ {print $2, $4, $8}' "$OUT/tcp/summary.md") <(awk '/^\| (SCSI|iSCSI)\./ {print $2, $4, $8}' "$OUT/xdp/summary.md"); then
	echo "xdp-conformance: the AF_XDP portal's per-suite results differ from the kernel-TCP portal's" >&2
	rc=1
else
	echo "xdp-conformance: AF_XDP portal passes the same tests as the kernel-TCP portal"
fi
exit $rc
