#!/usr/bin/env bash
# Analysis speed and peak memory on a synthetic run of N rows (default 10 million), beside
# DuckDB answering the same six questions in one process on the same files (issue 27):
# per-endpoint count, nearest-rank p50/p90/p95/p99 and max of successes; completions per
# endpoint per second; per stage and endpoint count, successes, p95 of successes, mean in
# flight; failures by endpoint, outcome, status and error with first and last time; per
# 10 s window and endpoint count, error share, p95 of successes; per model and endpoint
# count and p50/p95. Ratios are printed against DuckDB; the percentiles must be equal.
# Usage: bench/analysis-speed.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000000}"
python3 -m pip install --quiet --disable-pip-version-check duckdb pyarrow numpy
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/aurax-tool"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 bench/make_big_run.py --rows "$rows" --out "$work/run"

measure() { # label, command...: prints the figures, and keeps "seconds MB" in $work/$label.figures
  local label="$1"; shift
  /usr/bin/time -v "$@" > "$work/$label.out" 2> "$work/$label.time"
  local wall rss
  wall=$(awk -F': ' '/Elapsed/ {print $2}' "$work/$label.time")
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/$label.time")
  python3 - "$label" "$wall" "$rss" "$rows" "$work/$label.figures" <<'PY'
import sys
label, wall, rss, rows, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
parts = [float(x) for x in wall.split(":")]
secs = parts[-1] + (parts[-2] * 60 if len(parts) > 1 else 0) + (parts[-3] * 3600 if len(parts) > 2 else 0)
print(f"{label:<34} {secs:>8.2f} s {rows / secs / 1e6:>8.2f} M rows/s {rss / 1024:>8.0f} MB peak")
open(out, "w").write(f"{secs} {rss / 1024}\n")
PY
}

echo "rows: $rows"
measure "aurax-tool analyze (full report)" "$bin" analyze "$work/run" --out "$work/report"
cat > "$work/duckdb_six.py" <<PY
import duckdb, json
con = duckdb.connect()
con.sql("create view r as select * from read_parquet('$work/run/requests-*.parquet')")
ok = "outcome = 'ok'"
q = {
  "endpoints": f"select endpoint, count(*) filter (where outcome <> 'dropped'), quantile_disc(latency_us, 0.5) filter (where {ok}), quantile_disc(latency_us, 0.9) filter (where {ok}), quantile_disc(latency_us, 0.95) filter (where {ok}), quantile_disc(latency_us, 0.99) filter (where {ok}), max(latency_us) filter (where {ok}) from r group by endpoint order by endpoint",
  "completions_per_second": "select endpoint, (epoch_us(actual_send_time) + latency_us) // 1000000 as s, count(*) from r where outcome <> 'dropped' group by all",
  "stages": f"select stage, endpoint, count(*), count(*) filter (where {ok}), quantile_disc(latency_us, 0.95) filter (where {ok}), avg(in_flight) from r group by all",
  "failures": "select endpoint, outcome, status, error, count(*), min(actual_send_time), max(actual_send_time) from r where outcome <> 'ok' group by all",
  "windows": f"select epoch_us(actual_send_time) // 10000000 as w, endpoint, count(*), avg(case when {ok} then 0 else 1 end), quantile_disc(latency_us, 0.95) filter (where {ok}) from r group by all",
  "models": f"select model_used, endpoint, count(*), quantile_disc(latency_us, 0.5) filter (where {ok}), quantile_disc(latency_us, 0.95) filter (where {ok}) from r group by all",
}
out = {name: con.sql(sql).fetchall() for name, sql in q.items()}
print(json.dumps(out["endpoints"]))
PY
measure "duckdb, the six questions" python3 "$work/duckdb_six.py"
read -r ours_s ours_mb < "$work/aurax-tool analyze (full report).figures"
read -r duck_s duck_mb < "$work/duckdb, the six questions.figures"
python3 -c "import sys; a, b, c, d = map(float, sys.argv[1:]); print(f'aurax-tool / duckdb: {a / c:.2f}x the time, {b / d:.2f}x the memory (goal: at most 2.0x each)')" \
  "$ours_s" "$ours_mb" "$duck_s" "$duck_mb"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
ours = {e["name"]: e for e in json.load(open(f"{work}/report/summary.json"))["endpoints"]}
rows = json.loads(open(f"{work}/duckdb, the six questions.out").read())
for name, n, p50, p90, p95, p99, mx in rows:
    e = ours[name]
    same = (e["requests"], e["p50_ms"], e["p95_ms"], e["p99_ms"], e["max_ms"]) == (n, p50 / 1000, p95 / 1000, p99 / 1000, mx / 1000)
    print(f"  {name:<16} n={n:>9} p95 {p95 / 1000:>9.3f} ms  aurax-tool {'==' if same else '!='} duckdb")
PY
