"""Two neighbouring countries' population registers with a known overlap (reference scenario 1).

Country A and country B each keep a register. Cross-border workers live in
one country and are also registered in the other, so they appear in both,
written the way each office writes names (B drops diacritics and uses upper
case). :func:`person_key` normalises name and birth date into the join key a
PSI runs on; the true overlap is in ``truth["overlap"]``.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from insitu.examples.files import ExampleSet, finish, pick, prepare, seed_of, write_table
from insitu.examples.names import (
    BORDER_A,
    BORDER_B,
    GIVEN_NAMES_F,
    GIVEN_NAMES_M,
    REGIONS_A,
    REGIONS_B,
    SURNAMES,
)
from insitu.examples.register import ages
from insitu.tables.card import Card
from insitu.tables.variates import Variates

REFERENCE_DAY = date(2025, 1, 1)


def person_key(given_name: str, surname: str, birth_date: date | str) -> str:
    """The normalised PSI key ``surname|given name|YYYY-MM-DD``.

    Letters are folded to ASCII lower case (``Lefèvre`` → ``lefevre``),
    spaces, hyphens and apostrophes dropped, so both offices' spellings of
    one person give the same key.
    """

    def fold(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text.replace("ı", "i"))
        return "".join(ch for ch in plain.lower() if ch.isalnum() and ch.isascii())

    day = birth_date if isinstance(birth_date, str) else birth_date.isoformat()
    return f"{fold(surname)}|{fold(given_name)}|{day}"


def register_card(name: str, regions: list[str], country: str) -> Card:
    """Card of one country's register; the privacy unit is the normalised key."""
    return Card.from_mapping(
        {
            "name": name,
            "description": f"Population register of country {country} (synthetic).",
            "privacy_unit": {"column": "person_key", "max_rows": 1},
            "columns": [
                {"name": "person_key", "type": "string", "description": "see person_key()"},
                {"name": "given_name", "type": "string"},
                {"name": "surname", "type": "string"},
                {"name": "birth_date", "type": "date"},
                {"name": "sex", "type": "category", "categories": ["F", "M"]},
                {"name": "region", "type": "category", "categories": regions},
                {"name": "works_abroad", "type": "boolean"},
            ],
        }
    )


def _people(n: int, v: Variates) -> pd.DataFrame:
    """``n`` distinct adults of working age (distinct by normalised key)."""
    frames: list[pd.DataFrame] = []
    keys: set[str] = set()
    have = 0
    while have < n:
        m = (n - have) + 16
        sex = pick(["F", "M"], None, m, v)
        given = np.where(
            sex == "F", pick(GIVEN_NAMES_F, None, m, v), pick(GIVEN_NAMES_M, None, m, v)
        )
        surname = pick(SURNAMES, None, m, v)
        age = 18 + ages(m, v, top=48)
        born = [
            date.fromordinal(REFERENCE_DAY.toordinal() - int(a) * 365 - int(d))
            for a, d in zip(age, v.integers(0, 364, m), strict=True)
        ]
        rows: list[tuple[str, str, str, date, str]] = []
        for g, s, b, x in zip(given, surname, born, sex, strict=True):
            k = person_key(g, s, b)
            if k not in keys and have + len(rows) < n:
                keys.add(k)
                rows.append((k, g, s, b, x))
        have += len(rows)
        frames.append(
            pd.DataFrame(rows, columns=["person_key", "given_name", "surname", "birth_date", "sex"])
        )
    return pd.concat(frames, ignore_index=True)


def _as_written_in_b(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).upper()


def population_registers(
    directory: str | Path,
    *,
    rows_a: int = 20_000,
    rows_b: int = 15_000,
    overlap: int = 1_200,
    seed: bytes | str = b"insitu-example-population",
) -> ExampleSet:
    """Write ``register_a.csv`` and ``register_b.csv`` with exactly ``overlap`` shared people.

    The shared people are cross-border workers (``works_abroad`` true in the
    register of the country they work in, region a border region); a few
    people in each register also work abroad in a third country, so
    ``works_abroad`` alone does not reveal the overlap. ``truth`` holds the
    overlap, both sizes and the overlap per region of A.
    """
    if not 0 <= overlap <= min(rows_a, rows_b):
        raise ValueError("overlap must be between 0 and the smaller register size")
    out = prepare(directory)
    v = Variates.seeded(seed_of(seed), "population")
    pool = _people(rows_a + rows_b - overlap, v)
    shared = pool.iloc[:overlap]
    only_a = pool.iloc[overlap:rows_a]
    only_b = pool.iloc[rows_a:]
    a = pd.concat([shared, only_a], ignore_index=True)
    b = pd.concat([shared, only_b], ignore_index=True)
    a_regions = pick(list(REGIONS_A), list(REGIONS_A.values()), len(a), v)
    a_regions[:overlap] = pick(list(BORDER_A), None, overlap, v)
    b_regions = pick(list(REGIONS_B), list(REGIONS_B.values()), len(b), v)
    b_regions[:overlap] = pick(list(BORDER_B), None, overlap, v)
    a["region"], b["region"] = a_regions, b_regions
    a["works_abroad"] = v.bernoulli(0.01, len(a))
    b["works_abroad"] = v.bernoulli(0.01, len(b))
    b.loc[: overlap - 1, "works_abroad"] = True
    for col in ("given_name", "surname"):
        b[col] = b[col].map(_as_written_in_b)
    a = a.iloc[v.permutation(len(a))].reset_index(drop=True)
    b = b.iloc[v.permutation(len(b))].reset_index(drop=True)
    for frame in (a, b):
        frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    order = ["person_key", "given_name", "surname", "birth_date", "sex", "region", "works_abroad"]
    tables = [
        write_table(a[order], register_card("register_a", list(REGIONS_A), "A"), out),
        write_table(b[order], register_card("register_b", list(REGIONS_B), "B"), out),
    ]
    per_region = pd.Series(a_regions[:overlap]).value_counts().sort_index()
    truth = {
        "rows_a": rows_a,
        "rows_b": rows_b,
        "overlap": overlap,
        "overlap_by_region_a": {str(k): int(n) for k, n in per_region.items()},
    }
    return finish(out, tables, truth)
