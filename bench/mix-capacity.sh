#!/usr/bin/env bash
# A mix binds where its first model saturates: what the analysis reports against targets whose
# capacity per model is known without it.
#
# 1. bench/three_models.py, a three-model target of our own (not the simulator): FIFO slots
#    per model, text 8 x 40 ms = 200 req/s, code 4 x 50 ms = 80, image 1 x 100 ms = 10. The
#    default mix AuraxLoadTestUser (10% images) binds at 10 / 0.10 = 100 req/s offered, by
#    generate_image. An open ramp --rate-stages '20/s:5s,180/s:100s' past it.
# 2. The simulator, queueing, the same three capacities (time scale 0.0125: text 5 slots x
#    25 ms = 200, code 4 x 50 ms = 80, image 1 x 100 ms = 10), same mix and ramp.
# 3. The simulator with 2 text slots x 80 ms, AuraxPeakHourUser (80% text): 25 / 0.8 = 31.25
#    req/s, as bench/known-capacity.sh (no regression where the majority model binds).
#
# Prints, per target, the known capacity, the limiting endpoint reported, the breaking point,
# the capacity and the scale-out trigger with their ratios to the known capacity, and where
# the limiting endpoint's own latency knee landed. Load goes to 127.0.0.1 only.
# usage: bench/mix-capacity.sh            (needs cargo, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$PWD/target/release/aurax-tool
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_up() { # URL: until /health answers, at most 10 s
    for _ in $(seq 100); do
        python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

report() { # NAME KNOWN_RPS KNOWN_ENDPOINT SUMMARY_JSON
    python3 - "$@" <<'EOF'
import json, sys
name, known, endpoint, path = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
s = json.load(open(path))
bp, sc = s["breaking_point"], s["scaling"]
def row(what, v):
    if v is None:
        print(f"  {what:<44}     none (nothing saturated)")
        return
    print(f"  {what:<44} {v:8.1f} req/s  {v / known:5.2f}x known")
print(f"{name}: known capacity {known:.2f} req/s of the mix, bound by {endpoint}")
lim = sc.get("limiting") or {}
print(f"  limiting endpoint reported: {lim.get('endpoint')} (model {lim.get('model')}, "
      f"{100 * (lim.get('share') or 0):.1f}% of the mix, {lim.get('capacity_rps') or 0:.2f} req/s of its own)"
      f"  {'OK' if lim.get('endpoint') == endpoint else 'WRONG'}")
if bp["found"]:
    print(f"  breaking point: {bp['signal']} of {bp.get('endpoint') or 'the whole mix'} at {bp['load']:.0f} {bp['load_unit']}")
    row("breaking point, the level's mix offered", bp["offered_rps"])
    if bp.get("mix_equivalent_rps"):
        row("breaking point, its own rate / its share", bp["mix_equivalent_rps"])
else:
    print(f"  no breaking point: {bp['verdict']}")
row("capacity of the mix", sc["capacity_rps"])
row("scale-out trigger", sc["scale_out_at_rps"])
for sig in bp["signals"]:
    if sig["endpoint"] == endpoint and sig["signal"] == "latency_knee":
        row(f"{endpoint}'s latency knee, own rate / share", sig["own_mix_equivalent_rps"])
EOF
}

case_() { # LABEL KNOWN_RPS ENDPOINT PORT CLASS STAGES NAME: run, analyse, report
    wait_up "http://127.0.0.1:$4"
    "$BIN" run --host "http://127.0.0.1:$4" --user-class "$5" --rate-stages "$6" --seed 1 \
        --quiet --no-thresholds --out "$WORK/$7" >"$WORK/$7-run.log" 2>&1
    "$BIN" analyze "$WORK/$7" --out "$WORK/$7-report" >/dev/null
    report "$1" "$2" "$3" "$WORK/$7-report/summary.json"
}

# 1. Our own three-model target.
PORT=$(free_port)
python3 bench/three_models.py "$PORT" >"$WORK/three.log" &
PIDS+=($!)
case_ "three_models.py (text 8x40 ms, code 4x50 ms, image 1x100 ms)" 100 generate_image \
    "$PORT" AuraxLoadTestUser '20/s:5s,180/s:100s' three

# 2. The simulator with the same capacities.
PORT=$(free_port)
"$BIN" serve --port "$PORT" --text-slots 5 --code-slots 4 --image-slots 1 \
    --time-scale 0.0125 >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
case_ "simulator, same capacities" 100 generate_image \
    "$PORT" AuraxLoadTestUser '20/s:5s,180/s:100s' sim

# 3. The majority model binds (no regression).
PORT=$(free_port)
"$BIN" serve --port "$PORT" --text-slots 2 --time-scale 0.04 >"$WORK/sim2.log" 2>&1 &
PIDS+=($!)
case_ "simulator, 2 text slots x 80 ms, AuraxPeakHourUser" 31.25 generate_text \
    "$PORT" AuraxPeakHourUser '5/s:5s,60/s:60s' peak
