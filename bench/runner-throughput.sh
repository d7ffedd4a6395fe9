#!/usr/bin/env bash
# How many requests/s the runner sustains against the simulator on this machine, and the CPU
# it spends per 1,000 requests, beside wrk on the same endpoint in the same run.
# Load goes only to 127.0.0.1, for a bounded time. Usage: bench/runner-throughput.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-15}"
conns="${2:-64}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/aurax-tool"
work="$(mktemp -d)"
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT

# The simulator with zero service time: /health answers at once; it gets its own process.
$bin serve --port 0 --time-scale 0 > "$work/sim.out" &
sim_pid=$!
for _ in $(seq 50); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
url="$(head -1 "$work/sim.out" | awk '{print $NF}')"

cpu_of() { awk '/User time/ {u=$4} /System time/ {s=$4} END {print u+s}' "$1"; }

/usr/bin/time -v $bin run --host "$url" --scenario-file bench/health.toml --profile bench \
  -u "$conns" -t "${secs}s" --quiet --no-thresholds --out "$work/run" > "$work/run.out" 2> "$work/run.time" || true
runner_reqs=$(python3 -c "import json;print(json.load(open('$work/run/run.json'))['requests'])")
runner_cpu=$(cpu_of "$work/run.time")

/usr/bin/time -v wrk -t1 -c"$conns" -d"${secs}s" --latency "$url/health" > "$work/wrk.out" 2> "$work/wrk.time"
wrk_reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
wrk_cpu=$(cpu_of "$work/wrk.time")

python3 - "$secs" "$runner_reqs" "$runner_cpu" "$wrk_reqs" "$wrk_cpu" <<'PY'
import sys
secs, rr, rc, wr, wc = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
print(f"{'tool':<12} {'requests':>9} {'req/s':>9} {'CPU s':>7} {'CPU ms / 1k req':>16}")
print(f"{'aurax-tool':<12} {rr:>9} {rr/secs:>9.0f} {rc:>7.2f} {1000*rc/rr*1000:>16.1f}")
print(f"{'wrk':<12} {wr:>9} {wr/secs:>9.0f} {wc:>7.2f} {1000*wc/wr*1000:>16.1f}")
print(f"ratio aurax-tool / wrk: throughput {rr/wr:.2f}x, CPU per request {(rc/rr)/(wc/wr):.2f}x")
print("(aurax-tool also writes every outcome to Parquet and checks every body; wrk does neither)")
PY
