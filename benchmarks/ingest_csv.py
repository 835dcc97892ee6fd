"""Benchmark: register a large person-register CSV with insitu vs pandas.read_csv + to_parquet.

Each path runs in its own subprocess; the child reports its wall time and its
own peak RSS (``ru_maxrss``), so the two peaks do not mix. The CSV is made by
DuckDB from hashes of the row number (deterministic, no ``random``), under
``bench-data/`` (git-ignored) unless ``--dir`` says otherwise.

    .venv/bin/python benchmarks/ingest_csv.py --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REGIONS = ["Groningen", "Fryslân", "Drenthe", "Overijssel", "Flevoland", "Gelderland",
           "Utrecht", "Noord-Holland", "Zuid-Holland", "Zeeland", "Noord-Brabant",
           "Limburg"]  # fmt: skip
EMPLOYMENT = ["employed", "unemployed", "inactive", "student", "retired"]


def card_mapping() -> dict[str, object]:
    return {
        "name": "persons",
        "privacy_unit": {"column": "person_id", "max_rows": 1},
        "columns": [
            {"name": "person_id", "type": "integer"},
            {"name": "age", "type": "integer", "lower": 0, "upper": 110},
            {"name": "sex", "type": "category", "categories": ["F", "M"]},
            {"name": "region", "type": "category", "categories": REGIONS},
            {"name": "income", "type": "float", "lower": 0, "upper": 500000, "nullable": True},
            {"name": "employment", "type": "category", "categories": EMPLOYMENT},
            {"name": "household_size", "type": "integer", "lower": 1, "upper": 12},
            {"name": "birth_date", "type": "date"},
        ],
    }


def make_csv(path: Path, rows: int) -> None:
    import duckdb

    def lst(values: list[str]) -> str:
        return "[" + ", ".join("'" + v + "'" for v in values) + "]"

    h = "hash(i * 7919 + {k})"
    sql = f"""
    COPY (
      SELECT 100000000 + i AS person_id,
             ({h.format(k=1)} % 101)::BIGINT AS age,
             CASE WHEN {h.format(k=2)} % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
             {lst(REGIONS)}[1 + ({h.format(k=3)} % {len(REGIONS)})::BIGINT] AS region,
             CASE WHEN {h.format(k=4)} % 100 = 0 THEN NULL
                  ELSE round(exp(10.2 + 0.8 * (({h.format(k=5)} % 10000) / 10000.0 - 0.5) * 3.4), 2)
             END AS income,
             {lst(EMPLOYMENT)}[1 + ({h.format(k=6)} % {len(EMPLOYMENT)})::BIGINT] AS employment,
             (1 + {h.format(k=7)} % 6)::BIGINT AS household_size,
             DATE '1925-01-01' + ({h.format(k=8)} % 36500)::INTEGER AS birth_date
      FROM range({rows}) t(i)
    ) TO '{path}' (HEADER, DELIMITER ',')
    """
    duckdb.connect().execute(sql)


def child(which: str, csv: Path, out: Path) -> None:
    started = time.perf_counter()
    if which == "insitu":
        sys.path.insert(0, str(REPO / "src"))
        from insitu.tables.card import Card
        from insitu.tables.ingest import ingest

        report = ingest(csv, Card.from_mapping(card_mapping()), out)
        rows = report.rows
    elif which == "duckdb-plain":
        # The floor: DuckDB's CSV -> Parquet with the card's types and no checks at all
        # (its reader would silently round 3.5 into an integer column).
        sys.path.insert(0, str(REPO / "src"))
        from insitu.tables.duck import connect

        types = {"integer": "BIGINT", "float": "DOUBLE", "category": "VARCHAR", "date": "DATE"}
        cols = ", ".join(
            f"'{c['name']}': '{types[c['type']]}'"
            for c in card_mapping()["columns"]  # type: ignore[union-attr]
        )
        done = (
            connect()
            .execute(
                f"COPY (SELECT * FROM read_csv('{csv}', header = true, auto_detect = false, "
                f"columns = {{{cols}}})) TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
            )
            .fetchall()
        )
        rows = int(done[0][0])
    else:
        import pandas as pd

        frame = pd.read_csv(csv)
        frame.to_parquet(out, index=False)
        rows = len(frame)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result = {
        "which": which,
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
        "rows": rows,
    }
    print(json.dumps(result))


def run(which: str, csv: Path, out: Path) -> dict[str, float]:
    out.unlink(missing_ok=True)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", which, "--csv", str(csv), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["parquet_mib"] = out.stat().st_size / 2**20
    out.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv, args.out)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    csv = args.dir / f"persons_{args.rows}.csv"
    if not csv.exists():
        t = time.perf_counter()
        make_csv(csv, args.rows)
        print(
            f"made {csv} ({csv.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s"
        )
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    paths = ("insitu", "pandas", "duckdb-plain")
    results: dict[str, list[dict[str, float]]] = {w: [] for w in paths}
    for _ in range(args.repeat):
        for which in paths:
            results[which].append(run(which, csv, args.dir / f"out_{which}.parquet"))
            r = results[which][-1]
            print(f"  {which}: {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU", flush=True)
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    best = {w: min(r, key=lambda x: x["seconds"]) for w, r in results.items()}
    print(
        "| path | rows | wall s (best) | wall s (all runs) | CPU s | peak RSS MiB | Parquet MiB |"
    )
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: |")
    for w in paths:
        b = best[w]
        runs = ", ".join(f"{r['seconds']:.1f}" for r in results[w])
        print(
            f"| {w} | {int(b['rows']):,} | {b['seconds']:.2f} | {runs} | {b['cpu_seconds']:.1f} "
            f"| {b['peak_mib']:.0f} | {b['parquet_mib']:.0f} |"
        )
    for label, key in (("wall", "seconds"), ("CPU", "cpu_seconds")):
        pairs = [
            f"{i[key] / p[key]:.2f}"
            for i, p in zip(results["insitu"], results["pandas"], strict=True)
        ]
        print(f"insitu/pandas {label} per interleaved round: {', '.join(pairs)}")
    speed = best["pandas"]["seconds"] / best["insitu"]["seconds"]
    memory = best["pandas"]["peak_mib"] / best["insitu"]["peak_mib"]
    cpu = best["insitu"]["cpu_seconds"] / best["pandas"]["cpu_seconds"]
    print(
        f"insitu/pandas: wall {1 / speed:.2f}x (speed-up {speed:.2f}), CPU {cpu:.2f}x, "
        f"peak memory 1/{memory:.1f}"
    )


if __name__ == "__main__":
    main()
