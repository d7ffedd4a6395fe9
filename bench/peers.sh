#!/usr/bin/env bash
# aurax-tool beside its peers, each measured in this same run on this machine, against the
# built-in simulator (`aurax-tool serve --time-scale 0`, its own process, 127.0.0.1 only):
#   1. /health at zero service time, C connections, S seconds: aurax-tool (every request
#      checked and written to Parquet), oha and wrk (1 thread): req/s and CPU per request;
#   2. the seed's AuraxBurstUser x 300 users: aurax-tool and Locust with bench/locustfile.py
#      (the seed's classes, same payloads and checks): requests per CPU-second;
#   3. open model at 5,000 req/s: aurax-tool's scheduling lateness p99;
#   4. memory per virtual user: peak RSS with 10,000 users waiting 1-3 s against 100 users;
#   5. Parquet bytes a row of the runs above.
# Installs what it lacks (oha with cargo, wrk with apt, Locust with pip).
# Sections 1 and 2 alternate aurax-tool and its peer ROUNDS times (this machine is shared and noisy: each
# round's ratio is of two runs side by side, in section 1 the first of them alternating; the median
# round is the figure).
# Usage: bench/peers.sh [SECONDS] [CONNECTIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
conns="${2:-64}"
rounds="${3:-3}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v oha >/dev/null || cargo install oha --locked --quiet
command -v locust >/dev/null || python3 -m pip install --quiet --disable-pip-version-check locust
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/aurax-tool"
work="$(mktemp -d)"
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT

$bin serve --port 0 --time-scale 0 > "$work/sim.out" &
sim_pid=$!
for _ in $(seq 50); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
url="$(head -1 "$work/sim.out" | awk '{print $NF}')"

# CPU seconds (user + system) and peak RSS (KB) of a command run under /usr/bin/time -v.
cpu_of() { awk '/User time/ {u=$4} /System time/ {s=$4} END {print u+s}' "$1"; }
rss_of() { awk '/Maximum resident/ {print $6}' "$1"; }
rows_of() { python3 -c "import json,sys;m=json.load(open(sys.argv[1]));print(m['requests']+m['dropped'])" "$1/run.json"; }
bytes_of() { du -cb "$1"/requests-*.parquet | tail -1 | cut -f1; }

echo "== 1. /health, zero service time, $conns connections, ${secs} s, $rounds rounds"
# aurax-tool's CPU seconds while its load threads ran (the load itself, without the merge of
# its segments and the analysis of its files that follow), read from /proc every 0.1 s by one
# process that spawns nothing (a poller forking tools every 50 ms cost the load a sixth of its
# rate).
health_run() {
  rm -rf "$work/health"
  /usr/bin/time -v $bin run --host "$url" --scenario-file bench/health.toml --profile bench \
    -u "$conns" -t "${secs}s" --quiet --no-thresholds --out "$work/health" > /dev/null 2> "$work/health.time" &
  local timer=$!
  python3 - "$timer" > "$work/health.load_ticks" <<'PY'
import glob, sys, time
timer = int(sys.argv[1])
ticks = 0
def running(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
while running(timer):
    try:
        child = open(f"/proc/{timer}/task/{timer}/children").read().split()
        if child:
            pid = child[0]
            lanes = any(open(c).read().startswith("aurax-lane")
                        for c in glob.glob(f"/proc/{pid}/task/*/comm"))
            if lanes:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                ticks = int(fields[11]) + int(fields[12])
    except OSError:
        pass
    time.sleep(0.1)
print(ticks)
PY
  wait "$timer"
}
oha_run() {
  /usr/bin/time -v oha -z "${secs}s" -c "$conns" --no-tui --output-format json "$url/health" \
    > "$work/oha.json" 2> "$work/oha.time"
}
: > "$work/rounds"
for round in $(seq "$rounds"); do
  # Who goes first alternates, so a drift of the machine's speed favours neither.
  if [ $((round % 2)) -eq 1 ]; then health_run; oha_run; else oha_run; health_run; fi
  echo "$(rows_of "$work/health") $(cpu_of "$work/health.time") $(python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(sum(d['statusCodeDistribution'].values()))" "$work/oha.json") $(cpu_of "$work/oha.time") $(bytes_of "$work/health") $(cat "$work/health.load_ticks")" >> "$work/rounds"
done
/usr/bin/time -v wrk -t1 -c"$conns" -d"${secs}s" "$url/health" > "$work/wrk.out" 2> "$work/wrk.time"
wrk_reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")

echo "== 2. AuraxBurstUser x 300, ${secs} s after the spawn, $rounds rounds"
: > "$work/burst-rounds"
for round in $(seq "$rounds"); do
  rm -rf "$work/burst" "$work"/locust_*.csv
  /usr/bin/time -v $bin run --host "$url" --user-class AuraxBurstUser -u 300 -r 300 -t "$((secs + 1))s" \
    --quiet --no-thresholds --out "$work/burst" > /dev/null 2> "$work/burst.time"
  /usr/bin/time -v locust -f bench/locustfile.py --headless --host "$url" -u 300 -r 300 \
    -t "$((secs + 1))s" --csv "$work/locust" --only-summary AuraxBurstUser \
    > "$work/locust.out" 2> "$work/locust.time" || true
  locust_reqs=$(python3 -c "
import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r['Name']=='Aggregated': print(int(r['Request Count']))" "$work/locust_stats.csv")
  echo "$(rows_of "$work/burst") $(cpu_of "$work/burst.time") $locust_reqs $(cpu_of "$work/locust.time") $(bytes_of "$work/burst")" >> "$work/burst-rounds"
done
# The median round by efficiency ratio (requests a CPU-second against Locust's).
read -r b_rows b_cpu l_reqs l_cpu b_bytes < <(python3 - "$work/burst-rounds" <<'PY'
import sys
rounds = [l.split() for l in open(sys.argv[1]) if l.strip()]
ratio = lambda r: (int(r[0]) / float(r[1])) / (int(r[2]) / float(r[3]))
for i, r in enumerate(rounds, 1):
    print(f"burst round {i}: aurax-tool {int(r[0]) / float(r[1]):.0f} a CPU-second, Locust {int(r[2]) / float(r[3]):.0f}: {ratio(r):.1f}x", file=sys.stderr)
print(" ".join(sorted(rounds, key=ratio)[len(rounds) // 2]))
PY
)

echo "== 3. open model, 5,000 req/s for ${secs} s"
$bin run --host "$url" --scenario-file bench/health.toml --profile bench --rate 5000/s \
  -t "${secs}s" --quiet --no-thresholds --out "$work/open" > "$work/open.out" 2>&1 || true
lateness=$(awk '/scheduling lateness p99/ {print $4}' "$work/open.out")

echo "== 4. memory: 10,000 users waiting 1-3 s, against 100"
cat > "$work/idle.toml" <<'TOML'
name = "idle-users"
[endpoints.health]
method = "GET"
path = "/health"
check = { status = [200] }
[user_classes.Idle]
wait_s = [1.0, 3.0]
tasks = { health = 1 }
[profiles.idle]
users = 100
spawn_rate = 10000
run_time = "8s"
user_classes = ["Idle"]
TOML
for users in 100 10000; do
  /usr/bin/time -v $bin run --host "$url" --scenario-file "$work/idle.toml" --profile idle -u "$users" \
    -t 8s --quiet --no-thresholds --out "$work/idle-$users" > /dev/null 2> "$work/idle-$users.time"
done

# The median round (by throughput ratio) stands for section 1; every round is printed.
read -r h_rows h_cpu o_reqs o_cpu h_bytes h_load < <(python3 - "$work/rounds" <<'PY'
import os, sys
rounds = [l.split() for l in open(sys.argv[1]) if l.strip()]
ratio = lambda r: int(r[0]) / int(r[2])
for i, r in enumerate(rounds, 1):
    load = int(r[5]) / os.sysconf("SC_CLK_TCK") / int(r[0]) * 1e6
    print(f"round {i}: aurax-tool {int(r[0])} requests, oha {int(r[2])}: {ratio(r):.2f}x; CPU a request "
          f"{float(r[1]) / int(r[0]) * 1e6:.1f} us ({load:.1f} during the load), oha {float(r[3]) / int(r[2]) * 1e6:.1f} us",
          file=sys.stderr)
print(" ".join(sorted(rounds, key=ratio)[len(rounds) // 2]))
PY
)
python3 - "$secs" "$work" "$h_rows" "$h_cpu" \
  "$o_reqs" "$o_cpu" "$wrk_reqs" "$(cpu_of "$work/wrk.time")" \
  "$b_rows" "$b_cpu" "$l_reqs" "$l_cpu" \
  "$lateness" "$(rss_of "$work/idle-100.time")" "$(rss_of "$work/idle-10000.time")" \
  "$h_bytes" "$b_bytes" "$(bytes_of "$work/open")" "$(rows_of "$work/open")" "$h_load" <<'PY'
import os, sys
a = sys.argv[1:]
secs = float(a[0])
hr, hc, orq, oc, wr, wc = int(a[2]), float(a[3]), int(a[4]), float(a[5]), int(a[6]), float(a[7])
br, bc, lr, lc = int(a[8]), float(a[9]), int(a[10]), float(a[11])
late, rss100, rss10k = a[12], int(a[13]), int(a[14])
hb, bb, ob, orows = int(a[15]), int(a[16]), int(a[17]), int(a[18])
ms = lambda cpu, n: 1e6 * cpu / n
print(f"\n{'tool':<34} {'requests':>9} {'req/s':>8} {'CPU s':>6} {'CPU ms/1k':>10}")
for name, n, cpu in [("aurax-tool (Parquet, checks)", hr, hc), ("oha", orq, oc), ("wrk -t1", wr, wc)]:
    print(f"{name:<34} {n:>9} {n/secs:>8.0f} {cpu:>6.2f} {ms(cpu, n):>10.1f}")
print(f"aurax-tool / oha: throughput {hr/orq:.2f}x, CPU per request {(hc/hr)/(oc/orq):.2f}x")
load = int(a[19]) / os.sysconf("SC_CLK_TCK")
print(f"aurax-tool during the load alone (before merging its segments and analysing its files): "
      f"{load:.2f} CPU s, {ms(load, hr):.1f} ms/1k, {(load/hr)/(oc/orq):.2f}x oha's")
print(f"aurax-tool / wrk: throughput {hr/wr:.2f}x, CPU per request {(hc/hr)/(wc/wr):.2f}x")
print(f"\nAuraxBurstUser x 300: aurax-tool {br} requests, {br/bc:.0f} per CPU-second; "
      f"Locust {lr} requests, {lr/lc:.0f} per CPU-second: {(br/bc)/(lr/lc):.1f}x Locust's efficiency")
print(f"open model at 5,000 req/s: scheduling lateness p99 {late} ms")
print(f"memory: peak RSS {rss100/1024:.1f} MB with 100 users, {rss10k/1024:.1f} MB with 10,000: "
      f"{(rss10k - rss100) / 9900:.1f} KB a user")
print(f"Parquet: /health run {hb/hr:.1f} B/row ({hr} rows), burst run {bb/br:.1f} B/row ({br} rows), "
      f"5,000 req/s run {ob/orows:.1f} B/row ({orows} rows)")
PY
