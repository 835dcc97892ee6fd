"""Example data: deterministic, ingests cleanly against its cards, and the truth holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from insitu.examples import (
    ExampleSet,
    hospital_records,
    person_key,
    person_register,
    population_registers,
    trade_records,
)
from insitu.tables.ingest import ingest
from insitu.tables.read import read_table


def ingest_all(example: ExampleSet, dest: Path) -> dict[str, pd.DataFrame]:
    dest.mkdir(exist_ok=True)
    out = {}
    for t in example.tables:
        path = dest / f"{t.name}.parquet"
        report = ingest(t.csv, t.load_card(), path)
        assert report.rows > 0
        out[t.name] = read_table(path)
    return out


def test_person_register(tmp_path: Path) -> None:
    example = person_register(tmp_path / "a", rows=3_000)
    again = person_register(tmp_path / "b", rows=3_000)
    assert example.table("persons").csv.read_bytes() == again.table("persons").csv.read_bytes()
    frame = ingest_all(example, tmp_path / "p")["persons"]
    assert len(frame) == 3_000 and frame["person_id"].is_unique
    assert frame["region"].nunique() >= 10
    assert (frame.loc[frame["age"] < 16, "employment"] == "student").all()
    assert (frame.loc[frame["age"] < 16, "income"].dropna() == 0).all()
    assert frame["income"].isna().any()
    assert example.truth["mean_age"] == pytest.approx(frame["age"].mean())
    assert (example.directory / "truth.json").is_file()


def test_population_registers_overlap_is_exact(tmp_path: Path) -> None:
    example = population_registers(tmp_path, rows_a=3_000, rows_b=2_000, overlap=250)
    frames = ingest_all(example, tmp_path / "p")
    a, b = frames["register_a"], frames["register_b"]
    assert len(a) == 3_000 and len(b) == 2_000
    assert len(set(a["person_key"]) & set(b["person_key"])) == example.truth["overlap"] == 250
    # B writes names its own way; the normalised key still matches.
    assert b["surname"].str.isupper().all()
    row = b.iloc[0]
    assert (
        person_key(row["given_name"], row["surname"], row["birth_date"].date()) == row["person_key"]
    )
    assert person_key("Zoë", "Lefèvre", "1990-01-02") == person_key("ZOE", "LEFEVRE", "1990-01-02")
    shared = b[b["person_key"].isin(a["person_key"])]
    assert shared["works_abroad"].all()


def test_trade_records_truth(tmp_path: Path) -> None:
    example = trade_records(tmp_path, exporters=800, importers=600, shared=300)
    frames = ingest_all(example, tmp_path / "p")
    both = frames["exports_a"].merge(frames["imports_b"], on="enterprise_id")
    assert len(both) == example.truth["shared"] == 300
    assert both["value_eur_x"].sum() == pytest.approx(example.truth["exports_sum_shared"])
    assert both["value_eur_y"].sum() == pytest.approx(example.truth["imports_sum_shared"])


def test_hospital_records_truth(tmp_path: Path) -> None:
    example = hospital_records(tmp_path, hospitals=3, rows=800)
    frames = ingest_all(example, tmp_path / "p")
    assert len(frames) == 3
    pooled = pd.concat(frames.values(), ignore_index=True)
    assert len(pooled) == example.truth["rows"]
    assert pooled["length_of_stay"].mean() == pytest.approx(example.truth["mean_length_of_stay"])
    counts = pooled["diagnosis"].value_counts()
    assert {k: int(v) for k, v in counts.items()} == example.truth["count_by_diagnosis"]
    # A patient's sex does not change between stays.
    assert (pooled.groupby("patient_id")["sex"].nunique() == 1).all()
