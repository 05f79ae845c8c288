#!/usr/bin/env bash
# Benchmark: xtgtbench iscsi against the AF_XDP portal (userspace TCP) and the kernel-TCP portal of one xtgtd,
# on the same veth pair between two network namespaces, same client, interleaved. Prints MB/s (or IOPS) and the
# target's CPU seconds per GB (or µs per I/O), and the whole machine's (both sides, softirq included).
# Needs root. Usage: [MTU=3500] tools/bench-xdp-portal.sh [SECONDS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench-xdp-portal: needs root"; exit 1; }
secs=${1:-8}; reps=${2:-3}
suffix=$$
T=xbT$suffix; C=xbC$suffix; VT=xbt$suffix; VC=xbc$suffix
TA=10.234.0.1; CA=10.234.0.2
pid=
. tools/testbed.sh
testbed_extra_cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; }
testbed_up
mtu=${MTU:-1500}
ip -n "$T" link set "$VT" mtu "$mtu"
ip -n "$C" link set "$VC" mtu "$mtu"
go build -o bin/ ./cmd/xtgtd ./cmd/xtgtbench
nsenter --net=/run/netns/$T bin/xtgtd --portal $TA:3260 --portal xdp:$VT:$TA:3261 --lun ram:1G \
	--log-level warn --admin-socket "" &
pid=$!
for i in $(seq 1 100); do
	nsenter --net=/run/netns/$C bash -c "exec 3<>/dev/tcp/$TA/3261" 2>/dev/null && break
	sleep 0.1
done
iqn=iqn.2026-11.dev.xtgt:default
bench() { # portal op bs qd
	nsenter --net=/run/netns/$C bin/xtgtbench iscsi --url "iscsi://$TA:$1/$iqn/0" --op "$2" --bs "$3" --qd "$4" \
		--time "${secs}s" --pid "$pid" -j
}
bench 3261 write 1m 8 >/dev/null # fill the LUN once
echo "MTU $mtu"
printf '| case | kernel TCP | AF_XDP | AF_XDP/kernel | target CPU kernel | target CPU AF_XDP | ratio | host CPU kernel | host CPU AF_XDP | ratio |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
for c in "read 64k 16" "read 1m 8" "write 64k 16" "write 1m 8" "randread 4k 32"; do
	set -- $c
	k=(); x=(); kc=(); xc=(); kh=(); xh=()
	for r in $(seq 1 "$reps"); do
		for portal in 3260 3261; do
			j=$(bench $portal "$1" "$2" "$3")
			if [ "$2" = 4k ]; then v=$(jq -r .iops <<<"$j"); cpu=$(jq -r .target_cpu_us_per_io <<<"$j");
				host=$(jq -r '.host_cpu_s * 1e6 / .ios' <<<"$j")
			else v=$(jq -r .mb_per_s <<<"$j"); cpu=$(jq -r .target_cpu_s_per_gb <<<"$j");
				host=$(jq -r .host_cpu_s_per_gb <<<"$j"); fi
			if [ $portal = 3260 ]; then k+=("$v"); kc+=("$cpu"); kh+=("$host"); else x+=("$v"); xc+=("$cpu"); xh+=("$host"); fi
		done
	done
	med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
	mk=$(med "${k[@]}"); mx=$(med "${x[@]}"); mkc=$(med "${kc[@]}"); mxc=$(med "${xc[@]}")
	mkh=$(med "${kh[@]}"); mxh=$(med "${xh[@]}")
	unit=MB/s; cu=s/GB; [ "$2" = 4k ] && { unit=IOPS; cu=µs/IO; }
	printf '| %s %s QD%s (%s) | %.0f | %.0f | %.2f× | %.3f %s | %.3f %s | %.2f× | %.3f %s | %.3f %s | %.2f× |\n' \
		"$1" "$2" "$3" "$unit" "$mk" "$mx" "$(echo "$mx/$mk" | bc -l)" \
		"$mkc" "$cu" "$mxc" "$cu" "$(echo "$mxc/$mkc" | bc -l)" "$mkh" "$cu" "$mxh" "$cu" "$(echo "$mxh/$mkh" | bc -l)"
done
