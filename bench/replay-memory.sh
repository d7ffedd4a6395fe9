#!/usr/bin/env bash
# Trace replay streams: memory must not grow with the trace's length. Replays JSONL traces of
# 100,000 and 1,000,000 lines (health requests 1 ms apart, at --speed S: S x 1,000 req/s)
# against a simulator on 127.0.0.1, and beside each a peer measured in the same run: a
# synthetic --rate run of the same rate and length. Prints peak RSS, wall time, requests and
# lateness of each, and the replay/peer RSS ratios (near 1.0: reading the trace costs nothing
# that grows). Ends with the Azure code trace at --speed 60 (lateness p99 as in issue 5).
# Usage: bench/replay-memory.sh [SPEED]
set -euo pipefail
cd "$(dirname "$0")/.."
speed="${1:-10}"
cargo build --release --quiet
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/aurax-tool"
work="$(mktemp -d)"
trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" serve --port 0 > "$work/sim.txt" 2>&1 &
sim=$!
for _ in $(seq 50); do [ -s "$work/sim.txt" ] && break; sleep 0.1; done
url=$(head -1 "$work/sim.txt" | awk '{print $NF}')
rate=$((speed * 1000))

measure() { # name, then the run arguments
  local name="$1"; shift
  /usr/bin/time -f "%M %e" -o "$work/time-$name" "$bin" run "$@" --host "$url" \
    --out "$work/run-$name" --quiet --no-thresholds > "$work/out-$name.txt" 2>&1 &
  local runner=$!
  sleep 0.5
  local pid
  pid=$(pgrep -P "$runner" | head -1 || true)
  : > "$work/rss-over-time-$name"
  while kill -0 "$runner" 2>/dev/null; do
    [ -n "$pid" ] && awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status" >> "$work/rss-over-time-$name" 2>/dev/null || true
    sleep 2
  done
  wait "$runner" || true
  read -r rss wall < "$work/time-$name"
  late=$(grep -o 'lateness p99 [0-9.]* ms' "$work/out-$name.txt" | head -1)
  sent=$(python3 -c "import json; print(json.load(open('$work/run-$name/run.json'))['requests'])")
  # RSS sampled every 2 s, after the first fifth of the run: flat means it does not grow.
  steady=$(python3 -c "
v=[int(x) for x in open('$work/rss-over-time-$name').read().split()]
v=v[len(v)//5:] or v or [0]
print(f'RSS during the run {min(v)}-{max(v)} MB')")
  printf '  %-22s %9s requests in %6.1f s (%6.0f req/s), peak RSS %4d MB, %s, %s\n' \
    "$name" "$sent" "$wall" "$(python3 -c "print($sent/$wall)")" "$((rss / 1024))" "$steady" "$late"
  echo "$rss" > "$work/rss-$name"
}

for n in 100000 1000000; do
  python3 - "$n" "$work/t$n.jsonl" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write('{"offset_ms": %d, "endpoint": "health", "method": "GET", "path": "/health", "headers": {"x-trace": "bench"}}\n' % i)
PY
  echo "$n lines ($(du -m "$work/t$n.jsonl" | cut -f1) MB), $rate req/s:"
  measure "replay-$n" --trace "$work/t$n.jsonl" --speed "$speed" --scenario-file bench/health.toml --profile bench
  measure "synthetic-$n" --rate "$rate/s" -t "$((n / rate))s" --scenario-file bench/health.toml \
    --profile bench --connections 256
done
python3 - "$work" <<'PY'
import sys
w = sys.argv[1]
r = lambda name: int(open(f"{w}/rss-{name}").read())
for n in (100000, 1000000):
    print(f"replay / synthetic peak RSS at {n:,} lines: {r(f'replay-{n}') / r(f'synthetic-{n}'):.2f}")
print(f"replay peak RSS 1M / 100k lines: {r('replay-1000000') / r('replay-100000'):.2f} (10x the lines)")
PY
echo "Azure code trace (8,819 rows) at --speed 60:"
measure azure-code --trace fixtures/traces/azure-code-2023.csv:generate_code --speed 60
