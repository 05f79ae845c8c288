#!/usr/bin/env bash
# bench-rdma.sh: software RNIC (xtgtbench rdma) beside iperf3 TCP on loopback, as a markdown table.
# Usage: tools/bench-rdma.sh [seconds-per-run]   (default 3; env QD=16, SIZES="4k 64k 1m", OPS="write read")
set -euo pipefail
T=${1:-3}
QD=${QD:-16}
SIZES=${SIZES:-"4k 64k 1m"}
OPS=${OPS:-"write read"}
IPERF_PORT=${IPERF_PORT:-15201}
RDMA_PORT=${RDMA_PORT:-18515}
cd "$(dirname "$0")/.."
command -v iperf3 >/dev/null || { echo "iperf3 not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 needed to read JSON" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/xtgtbench" ./cmd/xtgtbench

iperf3 -s -1 -p "$IPERF_PORT" >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
timeout $((T + 10)) iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -t "$T" -J >"$work/iperf.json"
iperf_gbps=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e9))' "$work/iperf.json")

"$work/xtgtbench" rdma --listen "127.0.0.1:$RDMA_PORT" 2>"$work/server.log" &
pids+=($!)
sleep 0.5

echo "Loopback, $(nproc) CPUs, $(uname -r), go $(go env GOVERSION), ${T}s per run, qd $QD."
echo "iperf3 TCP (1 stream): **${iperf_gbps} Gb/s**"
echo
echo "| op | size | markers | CRC | Gb/s | × iperf3 | Mmsg/s | p50 µs | p99 µs | client CPU % |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for op in $OPS; do
	for size in $SIZES; do
		for mode in plain markers+crc crc; do
			flags=()
			case $mode in
			markers+crc) flags=(--markers --crc) ;;
			crc) flags=(--crc) ;;
			esac
			if ! timeout $((T + 20)) "$work/xtgtbench" rdma --connect "127.0.0.1:$RDMA_PORT" --op "$op" --size "$size" \
				--qd "$QD" --time "${T}s" "${flags[@]}" -j >"$work/run.json" 2>"$work/run.err"; then
				echo "| $op | $size | $mode | failed: $(head -c 200 "$work/run.err") |||||||"
				continue
			fi
			python3 - "$work/run.json" "$iperf_gbps" "$size" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); ip = float(sys.argv[2])
yn = lambda b: "on" if b else "off"
print("| %s | %s | %s | %s | %.2f | %.2f | %.3f | %.0f | %.0f | %.0f |" % (r["op"], sys.argv[3], yn(r["markers"]), yn(r["crc"]),
      r["gbps"], r["gbps"] / ip if ip else 0, r["mops"], r["lat_p50_us"], r["lat_p99_us"], r["cpu_pct"]))
PY
		done
	done
done
