"""The psi recipe between two parties over an in-memory Channel, from CSV and Parquet files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from insitu.computations.channel import InMemoryHub
from insitu.computations.psi import PsiResult, PsiSpec, run_receiver, run_sender
from insitu.crypto.normalise import KeyNormaliser
from insitu.engine import LocalEngine
from insitu.errors import InvalidInput
from insitu.protocols.psi import Mode

KEY = KeyNormaliser(
    ("name", "born"), casefold=True, date_formats={"born": ("%Y-%m-%d", "%d.%m.%Y")}
)


def both(spec: PsiSpec, left: Any, right: Any, engine: Any = None) -> tuple[PsiResult, PsiResult]:
    hub = InMemoryHub([spec.receiver, spec.sender])
    results: dict[str, PsiResult] = {}
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            results["s"] = run_sender(
                hub.channel(spec.sender), spec, right, engine=engine, timeout=30
            )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=sender)
    thread.start()
    results["r"] = run_receiver(hub.channel(spec.receiver), spec, left, engine=engine, timeout=30)
    thread.join()
    if errors:
        raise errors[0]
    return results["r"], results["s"]


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    left = tmp_path / "left.csv"
    left.write_text(
        "name,born,city\n"
        "Ana Lima,1990-03-04,Porto\n"
        "  BOB  STONE ,1985-12-01,Lyon\n"
        "Chloé Roux,2001-01-01,Nice\n"
        "Dan Ek,1970-07-07,Oslo\n"
    )
    right = tmp_path / "right.parquet"
    pq.write_table(
        pa.table(
            {
                "name": ["ana lima", "Bob Stone", "Chloé Roux", "Eve Nu"],
                "born": ["04.03.1990", "01.12.1985", "02.01.2001", "05.05.1955"],
                "exports": [100, 250, 7, 9],
                "sector": ["food", "steel", "wine", "toys"],
            }
        ),
        right,
    )
    return left, right


def test_intersection_revealed_to_both(tables: tuple[Path, Path]) -> None:
    spec = PsiSpec(
        Mode.INTERSECTION, "office-a", "office-b", KEY, reveal_to_both=True, chunk_rows=2
    )
    r, s = both(spec, *tables)
    assert r.output.matched == [0, 1]
    assert s.output.matched == [0, 1]
    assert set(spec.learns()) == {"office-a", "office-b"}
    assert spec.result_parties == ("office-a", "office-b")


def test_cardinality_on_a_process_pool(tables: tuple[Path, Path]) -> None:
    spec = PsiSpec(Mode.CARDINALITY, "a", "b", KEY, chunk_rows=1)
    with LocalEngine(2) as engine:
        r, s = both(spec, *tables, engine=engine)
    assert r.output.cardinality == 2 and r.output.matched is None
    assert s.output.receiver_size == 4


def test_intersection_sum(tables: tuple[Path, Path]) -> None:
    spec = PsiSpec(Mode.SUM, "a", "b", KEY, value_column="exports")
    r, s = both(spec, *tables)
    assert r.output.cardinality == 2
    assert (s.output.cardinality, s.output.total) == (2, 350)


def test_payload_join(tables: tuple[Path, Path]) -> None:
    spec = PsiSpec(Mode.PAYLOAD, "a", "b", KEY, payload_columns=("sector", "exports"))
    r, _ = both(spec, *tables)
    assert r.payload_rows == {
        0: {"sector": "food", "exports": 100},
        1: {"sector": "steel", "exports": 250},
    }


def test_in_memory_tables_and_spec_checks() -> None:
    key = KeyNormaliser(("id",))
    left = pa.table({"id": ["1", "2", "3"]})
    right = pa.table({"id": ["3", "4"]})
    r, _ = both(PsiSpec(Mode.INTERSECTION, "a", "b", key), left, right)
    assert r.output.matched == [2]
    with pytest.raises(InvalidInput):
        PsiSpec(Mode.SUM, "a", "b", key)
    with pytest.raises(InvalidInput):
        PsiSpec(Mode.INTERSECTION, "a", "a", key)
    with pytest.raises(InvalidInput):
        both(PsiSpec(Mode.INTERSECTION, "a", "b", KeyNormaliser(("nope",))), left, right)


def test_intersection_sum_grouped_by_a_receiver_column(tables: tuple[Path, Path]) -> None:
    spec = PsiSpec(
        Mode.SUM,
        "a",
        "b",
        KEY,
        value_column="exports",
        group_column="city",
        group_values=("Porto", "Lyon", "Nice", "Oslo"),
    )
    r, s = both(spec, *tables)
    assert r.output.group_counts == [1, 1, 0, 0]
    assert s.output.group_totals == [100, 250, 0, 0]
    assert "per city" in spec.learns()["b"]


def test_spec_round_trips_through_json() -> None:
    import json

    spec = PsiSpec(
        Mode.SUM, "a", "b", KEY, value_column="v", group_column="g", group_values=("x", "y")
    )
    again = PsiSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert spec.input_parties == ("a", "b")
    with pytest.raises(InvalidInput):
        PsiSpec.from_dict({"mode": "nonsense"})
    with pytest.raises(InvalidInput):
        PsiSpec.from_dict({**spec.to_dict(), "mode": "cardinality"})


def test_sources_stream_in_bounded_chunks(tmp_path: Path) -> None:
    from insitu.engine.sources import count_rows, iter_batches

    csv = tmp_path / "t.csv"
    csv.write_text("id,v\n" + "".join(f"00{i},{i}\n" for i in range(1000)))
    batches = iter_batches(csv, ["id"], rows=64)
    first = next(batches)
    assert first.num_rows == 64 and first.column("id")[0].as_py() == "000"  # keys stay text
    assert sum(b.num_rows for b in batches) + 64 == 1000 == count_rows(csv)
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(300)]}), parquet, row_group_size=50)
    assert max(b.num_rows for b in iter_batches(parquet, ["id"], rows=64)) <= 64
    assert count_rows(parquet) == 300
    with pytest.raises(InvalidInput):
        list(iter_batches(tmp_path / "t.json", ["id"], rows=1))
    with pytest.raises(InvalidInput):
        list(iter_batches(csv, ["missing"], rows=1))
