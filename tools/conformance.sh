#!/usr/bin/env bash
# Runs libiscsi's full iscsi-test-cu suite against xtgtd (see tools/conformance/main.go).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v iscsi-test-cu >/dev/null 2>&1; then
	if [ "${CI:-}" = true ] || [ "$(id -u)" = 0 ]; then
		echo "conformance: iscsi-test-cu missing although deps ran" >&2
		exit 1
	fi
	echo "conformance: SKIP (iscsi-test-cu not installed; run make test as root to install libiscsi-bin)" >&2
	exit 0
fi
exec go run ./tools/conformance -xtgtd bin/xtgtd "$@"
