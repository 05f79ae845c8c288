#!/usr/bin/env bash
# libiscsi's iscsi-test-cu from a peer network namespace against xtgtd in another, joined by a veth pair:
# once through a kernel-TCP portal and once through the AF_XDP portal (xdp:IFACE:IP:PORT, userspace TCP),
# then compares the sets of passed tests. Needs root; cleans up namespaces, XDP programs and pins on exit.
# MTU=9000 runs it over jumbo frames (the AF_XDP portal then sends multi-buffer segments).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "xdp-conformance: SKIP (needs root for namespaces and XDP)"; exit 0; fi
command -v iscsi-test-cu >/dev/null || { echo "xdp-conformance: iscsi-test-cu missing" >&2; exit 1; }
suffix=$$
T=xtT$suffix; C=xtC$suffix; VT=xvt$suffix; VC=xvc$suffix
TA=10.233.0.1; CA=10.233.0.2
OUT=${OUT:-tools/out/xdp-conformance}
. tools/testbed.sh
testbed_up
if [ -n "${MTU:-}" ]; then
	ip -n "$T" link set "$VT" mtu "$MTU"
	ip -n "$C" link set "$VC" mtu "$MTU"
fi
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
