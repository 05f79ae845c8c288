#!/usr/bin/env bash
# XDP fast-path benchmarks for docs/PERFORMANCE.md (needs root; one short run each):
#  - classifier cost per packet (BPF_PROG_TEST_RUN repeat, kernel-timed ns/pkt)
#  - AF_XDP receive rate on veth (copy mode, native XDP) beside the kernel's
#    own receive of the same TCP segments, with an AF_XDP sender in the peer netns.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^$' -bench 'BenchmarkClassifier' -benchtime 1000000x ./bpf
go test -count=1 -run '^$' -bench 'BenchmarkVethReceive' -benchtime 1000000x ./datapath/xsk
