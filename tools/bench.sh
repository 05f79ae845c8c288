#!/usr/bin/env bash
# make bench: Go micro-benchmarks (allocations per PDU/command), then xtgtbench against xtgtd and tgtd side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== Go benchmarks (allocs/op is per PDU or per command)"
go test -run '^$' -bench 'BenchmarkTarget|BenchmarkReadWrite' -benchmem -benchtime 2s ./iscsi/target ./iscsi/pdu
echo
echo "== xtgtbench: xtgtd vs tgtd (RAM-backed), loopback, same client"
go run ./tools/bench -bin bin "$@"
