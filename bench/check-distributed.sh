#!/usr/bin/env bash
# A distributed run checked against DuckDB: 3 workers (--shard i/3 --start-at) against the
# simulator, then `analyze` of the three, whose p95 per endpoint must equal DuckDB's
# quantile_disc over the union of their files (and their request count the union's).
# Installs DuckDB from PyPI; load goes to 127.0.0.1 only, for a few seconds.
# Usage: bench/check-distributed.sh [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-3}"
python3 -m pip install --quiet --disable-pip-version-check duckdb
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/aurax-tool"
work="$(mktemp -d)"
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT
$bin serve --port 0 --time-scale 0.02 > "$work/sim.out" &
sim_pid=$!
for _ in $(seq 50); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
url="$(head -1 "$work/sim.out" | awk '{print $NF}')"
at="$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%S.%3NZ)"
pids=()
for i in $(seq 0 $((n - 1))); do
  $bin run --host "$url" --user-class AuraxLoadTestUser --rate 60/s -t 8s --shard "$i/$n" \
    --start-at "$at" --seed 9 -q --no-thresholds --out "$work/runs/w$i" > /dev/null &
  pids+=($!)
done
wait "${pids[@]}"
$bin analyze "$work"/runs/w* --out "$work/report" > /dev/null
python3 - "$work" <<'PY'
import json, sys
import duckdb
work = sys.argv[1]
s = json.load(open(f"{work}/report/summary.json"))
con = duckdb.connect()
rows = con.execute(f"""
    select endpoint, quantile_disc(latency_us, 0.95) / 1000.0
    from read_parquet('{work}/runs/w*/requests-*.parquet') where outcome = 'ok'
    group by endpoint order by endpoint""").fetchall()
n, = con.execute(f"select count(*) from read_parquet('{work}/runs/w*/requests-*.parquet') where outcome <> 'dropped'").fetchone()
ours = {e["name"]: e["p95_ms"] for e in s["endpoints"]}
for endpoint, p95 in rows:
    assert abs(ours[endpoint] - p95) < 1e-9, (endpoint, ours[endpoint], p95)
    print(f"{endpoint:16} p95 {p95:10.3f} ms  = aurax-tool's {ours[endpoint]:10.3f}")
assert s["run"]["requests"] == n, (s["run"]["requests"], n)
print(f"OK: {len(s['workers'])} workers, {n} requests; analyze's p95 per endpoint = DuckDB's quantile_disc over the union")
PY
