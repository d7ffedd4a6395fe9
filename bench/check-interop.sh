#!/usr/bin/env bash
# Checks that a run's Parquet files read as they are in DuckDB, pyarrow, pandas and polars,
# with the row count of run.json. Installs what it needs from PyPI; load goes to 127.0.0.1.
# Usage: bench/check-interop.sh [RUN_DIR]   (without RUN_DIR: a 20 s light run is made, and a
# 10 s run of the built-in Ollama scenario against the simulator, for the generation columns)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check duckdb pyarrow pandas polars
run_dir="${1:-}"
if [ -z "$run_dir" ]; then
  run_dir="$(mktemp -d)/run"
  cargo run --release --quiet -- run --profile light -t 20s --seed 1 --quiet --out "$run_dir"
fi
python3 bench/check_interop.py "$run_dir"
if [ -z "${1:-}" ]; then
  ollama_dir="$(dirname "$run_dir")/ollama"
  cargo run --release --quiet -- scenario show ollama > "$(dirname "$run_dir")/ollama.toml"
  cargo run --release --quiet -- run --scenario-file "$(dirname "$run_dir")/ollama.toml" \
    --rate 5/s -t 10s --seed 1 --quiet --no-thresholds --out "$ollama_dir"
  python3 bench/check_interop.py "$ollama_dir"
fi
