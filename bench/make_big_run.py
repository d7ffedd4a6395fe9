"""Writes a synthetic aurax-tool run of N rows (the Parquet contract, schema version 1) for
benchmarks: 1M-row segments, a ramp from 1 to 200 users, six endpoints, 2% failures."""
import argparse
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

p = argparse.ArgumentParser()
p.add_argument("--rows", type=int, default=10_000_000)
p.add_argument("--out", required=True)
p.add_argument("--segment", type=int, default=1_000_000)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)

endpoints = ["generate_text", "generate_code", "generate_image", "system_status", "test_routing", "health"]
weights = np.array([0.5, 0.3, 0.1, 0.05, 0.04, 0.01])
base_ms = np.array([250.0, 400.0, 800.0, 8.0, 6.0, 1.0])
targets = {"percentile": 95.0,
           "endpoints": [{"endpoint": e, "target_ms": t} for e, t in zip(endpoints, [5000, 8000, 15000, 200, 100, 50])],
           "throughput": {"minimum_rps": 10, "target_rps": 50, "peak_rps": 100},
           "error_rate": {"tier": "normal", "max_error_rate": 0.01}}
meta = {b"aurax.schema_version": b"1", b"aurax.run_id": b"bench", b"aurax.target_host": b"http://127.0.0.1:1",
        b"aurax.targets": json.dumps(targets).encode()}
start_us = 1_800_000_000_000_000
duration_s = max(60.0, args.rows / 2000.0)
rng = np.random.default_rng(1)


def dict_col(values, codes):
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(values, pa.string()))


written = 0
seg = 1
while written < args.rows:
    n = min(args.segment, args.rows - written)
    idx = np.arange(written, written + n)
    t_s = idx / args.rows * duration_s
    users = (1 + 199 * idx / args.rows).astype(np.uint32)
    ep = rng.choice(len(endpoints), size=n, p=weights)
    latency_us = (base_ms[ep] * rng.lognormal(0.0, 0.4, size=n) * (1 + users / 100.0) * 1000).astype(np.int64)
    failed = rng.random(n) < 0.02
    sent = start_us + (t_s * 1e6).astype(np.int64)
    outcome = np.where(failed, 1, 0)
    table = pa.table({
        "run_id": dict_col(["bench"], np.zeros(n, np.int32)),
        "worker_id": pa.array(np.zeros(n, np.uint32)),
        "seq": pa.array(idx.astype(np.uint64)),
        "user_class": dict_col(["AuraxLoadTestUser"], np.zeros(n, np.int32)),
        "user_id": pa.array((idx % users).astype(np.uint32)),
        "endpoint": dict_col(endpoints, ep.astype(np.int32)),
        "method": dict_col(["POST"], np.zeros(n, np.int32)),
        "path": dict_col(["/generate"], np.zeros(n, np.int32)),
        "intended_send_time": pa.array(sent, pa.timestamp("us", tz="UTC")),
        "actual_send_time": pa.array(sent, pa.timestamp("us", tz="UTC")),
        "ttfb_us": pa.array(latency_us // 2),
        "latency_us": pa.array(latency_us),
        "status": pa.array(np.full(n, 200, np.uint16)),
        "outcome": dict_col(["ok", "app_error"], outcome.astype(np.int32)),
        "error": pa.DictionaryArray.from_arrays(
            pa.array(np.where(failed, 0, -1).astype(np.int32), mask=~failed),
            pa.array(["Model mistral is overloaded: 64 requests queued"])),
        "bytes_sent": pa.array(np.full(n, 120, np.uint64)),
        "bytes_received": pa.array(np.full(n, 2000, np.uint64)),
        "model_used": dict_col(["mistral", "qwen3:coder", "stable-diffusion"], np.minimum(ep, 2).astype(np.int32)),
        "response_type": dict_col(["text", "code", "image"], np.minimum(ep, 2).astype(np.int32)),
        "max_tokens": pa.array(np.full(n, 1000, np.uint32)),
        "users_active": pa.array(users),
        "in_flight": pa.array(np.maximum(1, users // 4).astype(np.uint32)),
        "stage": pa.array(np.zeros(n, np.uint32)),
        "stage_target": pa.array(np.full(n, 200.0)),
    }).replace_schema_metadata(meta)
    pq.write_table(table, f"{args.out}/requests-{seg:05d}.parquet", compression="zstd", row_group_size=131072)
    written += n
    seg += 1
print(f"wrote {written} rows in {seg - 1} files to {args.out}")
