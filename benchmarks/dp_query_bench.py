"""DP query benchmark: insitu vs plain DuckDB vs OpenDP's Context API, side by side.

Query: GROUP BY a 50-category column with COUNT, SUM and MEAN over 10 million
rows (two rows per person, income in [0, 200000], max_rows = 2, ρ = 0.5).

    .venv/bin/python benchmarks/dp_query_bench.py [--rows N] [--reps R] [--out FILE]

The data are generated under /tmp (not committed). Timings interleave the
contenders round by round so that load from other work on the machine hits
all of them alike; medians are reported, with ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from insitu.computations.dp_query import compile_sql, execute, plan_cost, prepare_dataset
from insitu.computations.dp_query.measures import allocate
from insitu.computations.dp_query.release import Presentation, fetch_aggregates, finish
from insitu.dp.budget import Budget, Spent, require_spend
from insitu.tables.card import Card

CATEGORIES = [f"r{i}" for i in range(50)]
CARD = Card.from_mapping(
    {
        "name": "persons",
        "columns": [
            {"name": "person_id", "type": "string"},
            {"name": "region", "type": "category", "categories": CATEGORIES},
            {"name": "income", "type": "float", "lower": 0, "upper": 200000},
            {"name": "age", "type": "integer", "lower": 0, "upper": 99},
        ],
        "privacy_unit": {"column": "person_id", "max_rows": 2},
    }
)
SQL = "SELECT region, COUNT(*), SUM(income), AVG(income) FROM persons GROUP BY region"
RHO = 0.5


def generate(path: Path, rows: int) -> None:
    """Two rows per person, 50 regions, incomes 0..199999, ages 0..99."""
    with duckdb.connect() as con:
        con.execute(
            f"""COPY (SELECT 'p' || CAST(i // 2 AS VARCHAR) AS person_id,
                   'r' || CAST(hash(i) % 50 AS VARCHAR) AS region,
                   CAST(hash(i * 7) % 200000 AS DOUBLE) AS income,
                   CAST(hash(i * 13) % 100 AS INTEGER) AS age
              FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)"""
        )


def plain_duckdb(path: Path) -> Callable[[], object]:
    engine = duckdb.connect()  # like insitu: one database, a cursor per query

    def run() -> object:
        with engine.cursor() as con:
            return con.execute(
                "SELECT region, count(*), sum(income), avg(income) "
                f"FROM read_parquet('{path}') GROUP BY region"
            ).fetchall()

    return run


def insitu(path: Path) -> Callable[[], object]:
    def run() -> object:
        plan = compile_sql(SQL, CARD)
        cost = plan_cost(plan, rho=RHO)
        require_spend([(Budget(10.0, 1e-6), Spent())], cost)
        return execute(plan, path, CARD, rho=RHO).table

    return run


def opendp_context(path: Path) -> Callable[[], object]:
    import opendp.prelude as dp
    import polars as pl

    dp.enable_features("contrib")
    keys = pl.LazyFrame({"region": CATEGORIES})

    def run() -> object:
        lf = pl.scan_parquet(path).select("region", "income")
        ctx = dp.Context.compositor(
            data=lf,
            privacy_unit=dp.unit_of(contributions=2),
            privacy_loss=dp.loss_of(rho=RHO),
            split_evenly_over=1,
            margins=[dp.polars.Margin(by=["region"], invariant="keys", max_length=10**9)],
        )
        income = pl.col("income").fill_null(0.0).fill_nan(0.0)
        query = (
            ctx.query()
            .group_by("region")
            .agg(
                [
                    dp.len(signed=True).alias("count"),
                    income.dp.sum((0.0, 200000.0)).alias("sum"),
                    income.dp.mean((0.0, 200000.0)).alias("mean"),
                ]
            )
            .with_keys(keys)
        )
        return query.release().collect()

    return run


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cpu_and_wall(fn: Callable[[], object], reps: int) -> tuple[float, float]:
    """Median wall and calling-thread CPU seconds (CPU time is less sensitive to other load)."""
    walls, cpus = [], []
    for _ in range(reps):
        c, w = time.thread_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.thread_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def overhead(tiny: Path, prepared: Path, reps: int) -> dict[str, tuple[float, float]]:
    """Fixed per-query costs (wall, CPU) in seconds: everything but the DuckDB scan."""
    plan = compile_sql(SQL, CARD)
    found = fetch_aggregates(plan, prepared, CARD)  # the 50 groups of the large table
    shares = allocate(plan, CARD, epsilon=None, rho=RHO)
    cost = plan_cost(plan, rho=RHO)

    def noise_and_table() -> object:
        return finish(
            plan, CARD, found, cost=cost, shares=shares, delta=None, presentation=Presentation()
        )

    def ledger() -> object:
        require_spend([(Budget(10.0, 1e-6), Spent())], plan_cost(plan, rho=RHO))
        return None

    parts = {
        "parse + plan (sqlglot, card checks)": cpu_and_wall(lambda: compile_sql(SQL, CARD), reps),
        "cost + ledger arithmetic": cpu_and_wall(ledger, reps),
        "noise + post-processing + table (50 groups x 3 measurements)": cpu_and_wall(
            noise_and_table, reps
        ),
    }
    parts["sum of the above"] = (
        sum(w for w, _ in parts.values()),
        sum(c for _, c in parts.values()),
    )
    parts["whole query on a 1,000-row file (includes its DuckDB scan)"] = cpu_and_wall(
        insitu(tiny), reps
    )
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--opendp-reps", type=int, default=2)
    ap.add_argument("--raw-reps", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/insitu-bench-dp"))
    ap.add_argument("--out", type=Path, default=None, help="append a markdown table here")
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    raw = args.dir / f"persons_{args.rows}.parquet"
    prepared = args.dir / f"persons_{args.rows}_prepared.parquet"
    tiny = args.dir / "persons_1000.parquet"
    if not raw.exists():
        generate(raw, args.rows)
    if not tiny.exists():
        generate(tiny, 1000)
    prep_s = timed(lambda: prepare_dataset(raw, prepared, CARD))

    contenders = {
        "plain DuckDB (no privacy)": (plain_duckdb(raw), args.reps),
        "plain DuckDB on the prepared file": (plain_duckdb(prepared), args.reps),
        "insitu, prepared dataset": (insitu(prepared), args.reps),
        "insitu, raw dataset (bounding per query)": (insitu(raw), args.raw_reps),
        "OpenDP 0.16 Context API (Polars)": (opendp_context(raw), args.opendp_reps),
    }
    for fn, _ in contenders.values():  # warm up caches and imports once each
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(args.reps):
        for name, (fn, reps) in contenders.items():
            if r < reps:
                times[name].append(timed(fn))
    med = {name: statistics.median(ts) for name, ts in times.items()}
    base = med["plain DuckDB (no privacy)"]
    ours = med["insitu, prepared dataset"]
    over = overhead(tiny, prepared, 30)

    lines = [
        f"rows: {args.rows:,}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_version()}, duckdb {duckdb.__version__}",
        f"prepare_dataset (once per dataset/card): {prep_s:.2f} s",
        "",
        "| contender | median s | runs | vs plain DuckDB | insitu (prepared) speed-up |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, ts in times.items():
        lines.append(
            f"| {name} | {med[name]:.3f} | {len(ts)} | {med[name] / base:.2f}x "
            f"| {med[name] / ours:.1f}x |"
        )
    lines += [
        "",
        "| fixed overhead per query | median wall ms | median CPU ms (calling thread) |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {k} | {w * 1e3:.1f} | {c * 1e3:.1f} |" for k, (w, c) in over.items()]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
