#!/usr/bin/env bash
# Parquet bytes a row of the default mix (the seed's AuraxLoadTestUser), as users run it:
#   - `aurax-tool run` as is (the light profile: 5 users, 2 minutes);
#   - the heavy profile (100 users, 1-3 s waits) against the built-in simulator, for each
#     length given (default 2m and 10m: the seed's heavy run is 10 minutes);
#   - `--rate 3000/s` for 30 s against `serve --time-scale 0` (the figure issue 14 started
#     from: 27.5 bytes a row).
# Prints rows, bytes, bytes a row, and the largest columns. 127.0.0.1 only, bounded time.
# Usage: bench/parquet-size.sh [LENGTH...]
set -euo pipefail
cd "$(dirname "$0")/.."
lengths=("$@")
[ ${#lengths[@]} -gt 0 ] || lengths=(2m 10m)
python3 -m pip install --quiet --disable-pip-version-check pyarrow
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/aurax-tool"
work="$(mktemp -d)"
trap 'kill $sim_pid 2>/dev/null || true; rm -rf "$work"' EXIT

report() {
  python3 - "$1" "$2" <<'PY'
import glob, json, os, sys
import pyarrow.parquet as pq
label, run = sys.argv[1], sys.argv[2]
m = json.load(open(f"{run}/run.json"))
rows = m["requests"] + m["dropped"]
files = sorted(glob.glob(f"{run}/requests-*.parquet"))
size = sum(os.path.getsize(f) for f in files)
cols = {}
for f in files:
    meta = pq.ParquetFile(f).metadata
    for g in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            col = meta.row_group(g).column(c)
            cols[col.path_in_schema] = cols.get(col.path_in_schema, 0) + col.total_compressed_size
top = ", ".join(f"{k} {v / rows:.2f}" for k, v in sorted(cols.items(), key=lambda kv: -kv[1])[:6])
print(f"{label}: {rows} rows in {len(files)} file(s), {size} bytes = {size / rows:.1f} B/row ({top})")
PY
}

$bin run --seed 1 --quiet --no-thresholds --out "$work/light" > /dev/null 2>&1 || true
report "light profile (aurax-tool run as is), 2m" "$work/light"
for length in "${lengths[@]}"; do
  $bin run --profile heavy -t "$length" --seed 1 --quiet --no-thresholds --out "$work/heavy-$length" > /dev/null 2>&1 || true
  report "heavy profile, $length" "$work/heavy-$length"
done

$bin serve --port 0 --time-scale 0 > "$work/sim.out" &
sim_pid=$!
for _ in $(seq 50); do grep -q listening "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
url="$(head -1 "$work/sim.out" | awk '{print $NF}')"
$bin run --host "$url" --user-class AuraxLoadTestUser --rate 3000/s -t 30s --seed 1 --quiet \
  --no-thresholds --out "$work/rate" > /dev/null 2>&1 || true
report "default mix at 3000/s, 30 s, zero service time" "$work/rate"
