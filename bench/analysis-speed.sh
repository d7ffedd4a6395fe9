#!/usr/bin/env bash
# Analysis speed and peak memory on a synthetic run of N rows (default 10 million), beside
# DuckDB computing the same per-endpoint nearest-rank percentiles on the same files, in one run.
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

measure() { # label, command...
  local label="$1"; shift
  /usr/bin/time -v "$@" > "$work/$label.out" 2> "$work/$label.time"
  local wall rss
  wall=$(awk -F': ' '/Elapsed/ {print $2}' "$work/$label.time")
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$work/$label.time")
  python3 - "$label" "$wall" "$rss" "$rows" <<'PY'
import sys
label, wall, rss, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
parts = [float(x) for x in wall.split(":")]
secs = parts[-1] + (parts[-2] * 60 if len(parts) > 1 else 0) + (parts[-3] * 3600 if len(parts) > 2 else 0)
print(f"{label:<34} {secs:>8.2f} s {rows / secs / 1e6:>8.2f} M rows/s {rss / 1024:>8.0f} MB peak")
PY
}

echo "rows: $rows"
measure "aurax-tool analyze (full report)" "$bin" analyze "$work/run" --out "$work/report"
measure "duckdb per-endpoint percentiles" python3 -c "
import duckdb
print(duckdb.sql(\"select endpoint, count(*), quantile_disc(latency_us, 0.5), quantile_disc(latency_us, 0.95), quantile_disc(latency_us, 0.99), max(latency_us) from read_parquet('$work/run/requests-*.parquet') group by endpoint order by endpoint\").fetchall())"
python3 - "$work" <<'PY'
import json, sys, ast
work = sys.argv[1]
ours = {e["name"]: e for e in json.load(open(f"{work}/report/summary.json"))["endpoints"]}
rows = ast.literal_eval(open(f"{work}/duckdb per-endpoint percentiles.out").read())
for name, n, p50, p95, p99, mx in rows:
    e = ours[name]
    same = (e["requests"], e["p50_ms"], e["p95_ms"], e["p99_ms"], e["max_ms"]) == (n, p50 / 1000, p95 / 1000, p99 / 1000, mx / 1000)
    print(f"  {name:<16} n={n:>9} p95 {p95 / 1000:>9.3f} ms  aurax-tool {'==' if same else '!='} duckdb")
PY
