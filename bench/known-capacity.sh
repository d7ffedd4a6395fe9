#!/usr/bin/env bash
# What the analysis reports against targets whose capacity is known without it, in one run:
#
# 1. A single-threaded server that blocks 10 ms per request and queues the rest
#    (bench/single_thread_server.py). Its capacity is measured by a peer, wrk, saturating it
#    with 16 connections; then aurax-tool ramps an open load past it
#    (--rate-stages 20/s:5s,160/s:90s, AuraxBurstUser) and analyses the run.
# 2. The simulator in queue mode with 2 text slots x 80 ms (25 text req/s); AuraxPeakHourUser
#    (80% text, 20% code on its own 50 req/s model) so the mix saturates at 25 / 0.8 = 31.25
#    req/s; ramped --rate-stages 5/s:5s,60/s:60s.
#
# Prints, per target, the known capacity and the reported breaking point, capacity and
# scale-out trigger with their ratios to it. Load goes to 127.0.0.1 only.
# usage: bench/known-capacity.sh [SERVICE_MS]   (needs cargo, python3; installs wrk with apt)
set -euo pipefail
cd "$(dirname "$0")/.."
SERVICE_MS=${1:-10}
if ! command -v wrk >/dev/null; then
    (apt-get install -y wrk || sudo apt-get install -y wrk) >/dev/null
fi
cargo build --release --quiet
BIN=$PWD/target/release/aurax-tool
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

report() { # NAME KNOWN_RPS SUMMARY_JSON
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
name, known, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
s = json.load(open(path))
bp, sc = s["breaking_point"], s["scaling"]
def row(what, v):
    if v is None:
        print(f"  {what:<40}     none (nothing saturated)")
        return
    print(f"  {what:<40} {v:8.1f} req/s  {v / known:5.2f}x known")
print(f"{name}: known capacity {known:.1f} req/s")
if bp["found"]:
    print(f"  breaking point: {bp['signal']} at {bp['load']:.0f} {bp['load_unit']}")
    row("breaking point, offered", bp["offered_rps"])
    row("breaking point, served successfully", bp["throughput_rps"])
else:
    print(f"  no breaking point: {bp['verdict']}")
row("capacity (served successfully)", sc["capacity_rps"])
row("scale-out trigger", sc["scale_out_at_rps"])
print(f"  {'scale-out trigger, in flight':<40} {sc['scale_out_at_in_flight']:8.1f} requests")
row("most served successfully at a level", sc["max_throughput_rps"])
EOF
}

# 1. The single-threaded server, measured by wrk, then ramped by aurax-tool.
PORT=$(free_port)
python3 bench/single_thread_server.py "$PORT" "$SERVICE_MS" >"$WORK/server.log" &
PIDS+=($!)
sleep 1
URL=http://127.0.0.1:$PORT
KNOWN=$(wrk -t1 -c16 -d10s "$URL/generate" | awk '/Requests\/sec/ {print $2}')
echo "wrk: the single-threaded ${SERVICE_MS} ms server serves $KNOWN req/s"
"$BIN" run --host "$URL" --user-class AuraxBurstUser --rate-stages '20/s:5s,160/s:90s' \
    --seed 1 --quiet --no-thresholds --out "$WORK/single" >"$WORK/single.log" 2>&1
"$BIN" analyze "$WORK/single" --out "$WORK/single-report" >/dev/null
report "single-threaded ${SERVICE_MS} ms server" "$KNOWN" "$WORK/single-report/summary.json"

# 2. The simulator, queueing, with a mix of which one model saturates.
PORT=$(free_port)
"$BIN" serve --port "$PORT" --text-slots 2 --time-scale 0.04 >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
sleep 1
"$BIN" run --host "http://127.0.0.1:$PORT" --user-class AuraxPeakHourUser \
    --rate-stages '5/s:5s,60/s:60s' --seed 1 --quiet --no-thresholds --out "$WORK/mix" \
    >"$WORK/mix.log" 2>&1
"$BIN" analyze "$WORK/mix" --out "$WORK/mix-report" >/dev/null
report "simulator, 2 text slots x 80 ms, 80% text" 31.25 "$WORK/mix-report/summary.json"
