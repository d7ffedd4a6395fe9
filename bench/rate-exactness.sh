#!/usr/bin/env bash
# Open-model schedule exactness: a --rate run against the simulator (127.0.0.1, bounded),
# achieved arrivals against rate x seconds, and the scheduling lateness p99 the run reports.
# Usage: bench/rate-exactness.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rate="${1:-200}"
secs="${2:-60}"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/aurax-tool"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" run --rate "${rate}/s" -t "${secs}s" --user-class AuraxBurstUser --quiet --no-thresholds --out "$work/run" > "$work/out.txt" 2>&1
sent=$(python3 -c "import json; print(json.load(open('$work/run/run.json'))['requests'])")
late=$(grep -o 'scheduling lateness p99 [0-9.]* ms' "$work/out.txt")
python3 - "$rate" "$secs" "$sent" "$late" <<'PY'
import sys
rate, secs, sent, late = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
want = rate * secs
print(f"--rate {rate:.0f}/s for {secs:.0f} s: {sent} arrivals of {want:.0f} ({100 * (sent - want) / want:+.2f}%); {late}")
PY
