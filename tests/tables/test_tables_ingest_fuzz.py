"""Any bytes handed to ingest give a report or an insitu error, and never a partial table."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insitu.errors import InvalidInput
from insitu.tables.card import Card
from insitu.tables.ingest import ingest
from insitu.tables.read import read_table

CARD = Card.from_mapping(
    {
        "name": "fuzz",
        "privacy_unit": {"column": "id", "max_rows": 2},
        "columns": [
            {"name": "id", "type": "integer"},
            {"name": "x", "type": "float", "lower": -5, "upper": 5, "nullable": True},
            {"name": "c", "type": "category", "categories": ["a", "b", "ü"]},
            {"name": "d", "type": "date", "nullable": True},
        ],
    }
)
CELLS = st.sampled_from(
    ["1", "2", "-3", "3.0", "3.5", "1e2", "", '""', "a", "b", "ü", "A", "nan", "inf",
     "2020-01-01", "2020-02-30", "epoch", '"a,b"', '"x', "9" * 25, " 7 ", "\x00", "é"]
)  # fmt: skip
ROWS = st.lists(st.lists(CELLS, min_size=2, max_size=5), max_size=6)


def check(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, dest = Path(tmp) / "in.csv", Path(tmp) / "out.parquet"
        src.write_bytes(raw)
        try:
            report = ingest(src, CARD, dest)
        except InvalidInput as exc:
            assert exc.message
            assert not dest.exists()
        else:
            assert report.rows == len(read_table(dest))
        assert sorted(p.name for p in Path(tmp).iterdir()) in (
            ["in.csv"],
            ["in.csv", "out.parquet"],
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.sampled_from(["id,x,c,d", "x,d,c,id", "id,x,c", "id;x;c;d"]), rows=ROWS)
def test_structured_garbage(header: str, rows: list[list[str]]) -> None:
    sep = ";" if ";" in header else ","
    text = header + "\n" + "\n".join(sep.join(r) for r in rows)
    check(text.encode("utf-8", errors="surrogatepass"))


@settings(max_examples=30, deadline=None)
@given(raw=st.binary(max_size=200))
def test_random_bytes(raw: bytes) -> None:
    check(b"id,x,c,d\n" + raw)
