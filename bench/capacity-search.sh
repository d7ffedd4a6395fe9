#!/usr/bin/env bash
# `run --find-capacity` with its defaults (start 1/s, 30 s steps, 5%, 10 min budget) against
# the built-in simulator at its defaults, whose capacity for the light profile's mix
# (AuraxLoadTestUser: 50% text, 30% code, 10% image, 10% system) follows from its flags:
#   text  16 slots / (2 s x 0.1) = 80/s  -> 80 / 0.5 = 160 req/s of the mix
#   code   8 slots / (4 s x 0.1) = 20/s  -> 20 / 0.3 = 66.7 req/s of the mix
#   image  4 slots / (8 s x 0.1) =  5/s  ->  5 / 0.1 = 50 req/s of the mix   <- limiting
# Prints the search's time, its steps, the answer and its ratio to 50 req/s. Loopback only.
# usage: bench/capacity-search.sh [extra run flags]   (BIN=... to use another build)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=$PWD/target/release/aurax-tool
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s.%N)
"$BIN" run --find-capacity --seed 1 --quiet --no-thresholds --out "$WORK/run" \
    --report --report-dir "$WORK/rep" "$@" >"$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt"; exit 1; }
end=$(date +%s.%N)
grep -A20 '^step ' "$WORK/out.txt" | sed '/^$/q'
python3 - "$WORK/rep/summary.json" "$start" "$end" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["capacity"]
took = float(sys.argv[3]) - float(sys.argv[2])
cap = c["capacity_rps"]
lim = c["limiting"] or {}
print(f"search: {took/60:.1f} min, {len(c['steps'])} steps; capacity {cap:.1f} req/s "
      f"(known 50.0: {cap/50:.2f}x), failing at {c['failing_rps']:.1f}, converged {c['converged']}, "
      f"limited by {lim.get('endpoint')} ({lim.get('signal')})")
print(c["sentence"])
PY
