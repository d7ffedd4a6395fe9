#!/usr/bin/env bash
# Cross-check of the live exporter with Prometheus' own Python client parser (the reference
# implementation of the text format): a bounded run against the simulator on 127.0.0.1 with
# --metrics-listen, scraped mid-run and once the load is over (--metrics-hold), each scrape
# parsed by prometheus_client, and the final request count compared with run.json.
# Usage: bench/check-prometheus.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
python3 -c "import prometheus_client" 2>/dev/null || pip install --quiet prometheus-client
cargo build --release --quiet
bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/aurax-tool"
work="$(mktemp -d)"
trap 'kill $run 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin" run --rate 50/s -t "${secs}s" --metrics-listen 127.0.0.1:0 --metrics-hold 5s \
  --no-thresholds --quiet --out "$work/run" > "$work/out.txt" 2> "$work/err.txt" &
run=$!
for _ in $(seq 100); do grep -q 'live metrics' "$work/err.txt" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*/metrics' "$work/err.txt" | head -1)
sleep $((secs / 2))
curl -sf "$url" > "$work/mid.prom"
for _ in $(seq 100); do
  curl -sf "$url" > "$work/last.prom" || true
  grep -q '^aurax_load_running 0' "$work/last.prom" && break
  sleep 0.2
done
wait $run || true
python3 - "$work" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
work = sys.argv[1]
def parse(name):
    fams = list(text_string_to_metric_families(open(f"{work}/{name}").read()))
    return {f.name: f for f in fams}
mid, last = parse("mid.prom"), parse("last.prom")
def total(fams):
    return sum(s.value for s in fams["aurax_load_requests"].samples if s.name == "aurax_load_requests_total")
rows = json.load(open(f"{work}/run/run.json"))["requests"]
print(f"prometheus_client parsed {len(mid)} families mid-run, {len(last)} at the end")
print(f"requests mid-run {total(mid):.0f}; at the end {total(last):.0f}; run.json {rows}")
hist = [s for s in last["aurax_load_request_duration_seconds"].samples if s.name.endswith("_count")]
print(f"histogram counts {sum(s.value for s in hist):.0f} over {len(hist)} endpoint(s)")
ok = total(last) == rows == sum(s.value for s in hist)
print("MATCH" if ok else "MISMATCH")
sys.exit(0 if ok else 1)
PY
