#!/usr/bin/env bash
# Installs the Debian tools the tests use (libiscsi's conformance suite and utilities, tgt as the baseline, tshark
# as the wire checker, iperf3, qemu-img), when running as root and something is missing. Never fails the build
# when not root: the tests that need a missing tool skip and say so.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have iscsi-test-cu || need+=(libiscsi-bin)
have tgtd || need+=(tgt)
have tshark || need+=(tshark)
have iperf3 || need+=(iperf3)
have qemu-img || need+=(qemu-utils qemu-block-extra)
have clang || need+=(clang llvm)
have jq || need+=(jq)
have bc || need+=(bc)
[ -e /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root, not installing: ${need[*]} (tests needing them will skip)" >&2
	exit 0
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
