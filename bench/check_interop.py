"""Reads an aurax-tool run directory with DuckDB, pyarrow, pandas and polars and cross-checks them."""
import glob
import json
import sys

import duckdb
import polars as pl
import pyarrow.parquet as pq

run_dir = sys.argv[1]
manifest = json.load(open(f"{run_dir}/run.json"))
files = sorted(glob.glob(f"{run_dir}/requests-*.parquet"))
assert files, f"no request files in {run_dir}"

table = pq.read_table(files)
print(f"pyarrow: {table.num_rows} rows, schema:")
for field in table.schema:
    print(f"  {field.name}: {field.type}")
meta = pq.read_metadata(files[0]).metadata
version = int(meta[b"aurax.schema_version"])
assert version >= 1, version
print(f"schema version {version}")

df = table.to_pandas()
assert str(df["actual_send_time"].dtype).startswith("datetime64"), df.dtypes

con = duckdb.connect()
glob_path = f"{run_dir}/requests-*.parquet"
n_duck, = con.execute(f"select count(*) from read_parquet('{glob_path}')").fetchone()
by_endpoint = con.execute(
    f"""select endpoint, count(*) as n,
               quantile_disc(latency_us, 0.95) / 1000.0 as p95_ms,
               avg((outcome <> 'ok')::int) as error_rate
        from read_parquet('{glob_path}') group by endpoint order by endpoint"""
).fetchall()
print("duckdb per endpoint (p95 by quantile_disc, nearest rank):")
for row in by_endpoint:
    print("  ", row)

frame = pl.read_parquet(files)
assert frame.schema["actual_send_time"] == pl.Datetime("us", "UTC"), frame.schema
assert frame["endpoint"].dtype in (pl.Categorical, pl.String), frame.schema
polars_p95 = {
    row["endpoint"]: row["p95"]
    for row in frame.group_by("endpoint")
    # Nearest rank, as aurax-tool and DuckDB's quantile_disc define it: the ceil(0.95 n)-th.
    .agg(
        pl.col("latency_us")
        .sort()
        .get((pl.len() * 0.95).ceil().cast(pl.Int64) - 1)
        .alias("p95")
    )
    .iter_rows(named=True)
}
for endpoint, _, p95_ms, _ in by_endpoint:
    assert abs(polars_p95[endpoint] / 1000.0 - p95_ms) < 1e-9, (endpoint, polars_p95, p95_ms)

expected = manifest["requests"] + manifest.get("dropped", 0)
assert n_duck == table.num_rows == len(df) == frame.height == expected, (
    n_duck, table.num_rows, len(df), frame.height, expected)
print(f"OK: DuckDB, pyarrow, pandas and polars read {n_duck} rows = run.json requests + dropped")
print(f"OK: polars' p95 per endpoint (nearest rank) = DuckDB's quantile_disc")

# Generation columns (schema version 3): DuckDB reads them, and its TTFT p95 (nearest rank)
# equals polars' and aurax-tool's own (summary.json's generation, when a report is beside).
if version >= 3:
    gen = con.execute(
        f"""select endpoint, count(ttft_us) as streamed,
                   quantile_disc(ttft_us, 0.95) / 1000.0 as ttft_p95_ms,
                   quantile_disc(itl_mean_us, 0.95) / 1000.0 as itl_p95_ms,
                   sum(tokens_out) as tokens_out,
                   avg(server_queue_us) / 1000.0 as queue_ms,
                   avg(server_gen_us) / 1000.0 as gen_ms
            from read_parquet('{glob_path}') where outcome = 'ok'
            group by endpoint order by endpoint"""
    ).fetchall()
    print("duckdb generation columns per endpoint (successes):")
    for row in gen:
        print("  ", row)
    ok = frame.filter(pl.col("outcome").cast(pl.String) == "ok")
    for endpoint, streamed, ttft_p95, *_ in gen:
        if not streamed:
            continue
        values = ok.filter(pl.col("endpoint").cast(pl.String) == endpoint)["ttft_us"].drop_nulls().sort()
        nearest = values[int(-(-0.95 * len(values) // 1)) - 1] / 1000.0
        assert abs(nearest - ttft_p95) < 1e-9, (endpoint, nearest, ttft_p95)
    print("OK: DuckDB reads the generation columns; its TTFT p95 = polars' nearest rank")

# Resource samples: resources.parquet and any sealed resources-NNNNN.parquet, as one table.
resource_glob = f"{run_dir}/resources*.parquet"
resource_files = sorted(glob.glob(resource_glob))
if resource_files:
    res = pq.read_table(resource_files)
    assert str(res.schema.field("time").type) == "timestamp[us, tz=UTC]", res.schema
    n_res, = con.execute(f"select count(*) from read_parquet('{resource_glob}')").fetchone()
    assert n_res == res.num_rows, (n_res, res.num_rows)
    cpu = con.execute(
        f"""select source,
                   (max(value) - min(value))
                     / nullif(date_diff('microsecond', min(time), max(time)) / 1e6, 0) as cores
            from read_parquet('{resource_glob}')
            where metric = 'process_cpu_seconds_total' and labels = ''
            group by source order by source"""
    ).fetchall()
    print(f"resources: {n_res} samples in {len(resource_files)} file(s); mean CPU cores by source:")
    for row in cpu:
        print("  ", row)
    assert cpu, "no CPU samples"
    print(f"OK: DuckDB and pyarrow read {n_res} resource samples alike")
