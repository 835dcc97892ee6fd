"""Malformed cards are refused with a message that names the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from insitu.errors import InvalidInput
from insitu.tables.card import Card


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: t\ncolumns: [", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("name: t\ncolumns: []\n", "at least one column"),
        ("name: t\ncolumns:\n- {name: c, type: category}\n", "needs categories"),
        ("name: t\ncolumns:\n- {name: s, type: string, lower: 0}\n", "only allowed on numeric"),
        ("name: t\ncolumns:\n- {name: n, type: integer, lower: 5, upper: 1}\n", "lower bound"),
        ("name: t\ncolumns:\n- {name: n, type: complex}\n", "columns.0.type"),
        ("name: t\ncolumns:\n- {name: 1st, type: integer}\n", "must be letters"),
        ("name: t\ncolumns:\n- {name: a, type: integer}\nprivacy_unit: {column: b}\n", "not in"),
        ("name: t\ncolumns:\n- {name: a, type: integer, colour: red}\n", "colour"),
    ],
)
def test_malformed_card(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Card.from_text(text)
    assert fragment in info.value.message


def test_unreadable_card_file(tmp_path: Path) -> None:
    path = tmp_path / "card.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidInput, match="cannot read card"):
        Card.load(path)
