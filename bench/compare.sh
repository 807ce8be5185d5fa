#!/usr/bin/env bash
# Side-by-side figures: Postern, Postfix + Dovecot and maddy run the same
# workloads from ../shared/bench in one interleaved run (its README explains
# the report). Needs the harness's one-time setup as root:
#   ../shared/bench/peers/setup.sh
# Usage: bench/compare.sh [WORKLOADS]   (default smtp4k,pop3; REPEAT=3 runs)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${SHARED_BENCH:-$root/../shared/bench}
[ -d "$B" ] || { echo "compare.sh: no benchmark harness at $B" >&2; exit 1; }
export BENCH_DIR=${BENCH_DIR:-/tmp/bench}
workloads=${1:-smtp4k,pop3}
bin=$BENCH_DIR/postern-bin
mkdir -p "$BENCH_DIR"
(cd "$root" && go build -o "$bin" ./cmd/postern)

cleanup() {
	"$B/peers/stop-postern.sh" >/dev/null 2>&1 || true
	"$B/peers/stop-maddy.sh" >/dev/null 2>&1 || true
	"$B/peers/stop-dovecot-postfix.sh" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
"$B/peers/start-postern.sh" "$bin"
"$B/peers/start-dovecot-postfix.sh"
"$B/peers/start-maddy.sh"
REPEAT=${REPEAT:-3} "$B/run_compare.sh" --workloads "$workloads"
