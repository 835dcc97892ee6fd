"""Declared key normalisation makes equal real-world keys equal bytes, and only those."""

from __future__ import annotations

import datetime as dt

import pytest

from insitu.crypto.normalise import KeyNormaliser
from insitu.errors import InvalidInput


def test_trim_casefold_and_nfkc() -> None:
    norm = KeyNormaliser(("name",), casefold=True)
    assert norm.key(["  Straße  Müller "]) == norm.key(["STRASSE müller"])
    assert norm.key(["１２３"]) == norm.key(["123"])  # full-width digits under NFKC
    strict = KeyNormaliser(("name",), trim=False, nfkc=False)
    assert strict.key([" a"]) != strict.key(["a"])


def test_columns_are_joined_without_ambiguity() -> None:
    norm = KeyNormaliser(("a", "b"))
    assert norm.key(["ab", "c"]) != norm.key(["a", "bc"])


def test_date_formats() -> None:
    norm = KeyNormaliser(("id", "born"), date_formats={"born": ("%d/%m/%Y", "%Y-%m-%d")})
    iso = norm.key(["7", "1990-03-04"])
    assert norm.key(["7", "04/03/1990"]) == iso
    assert norm.key(["7", dt.date(1990, 3, 4)]) == iso
    with pytest.raises(InvalidInput):
        norm.key(["7", "March 4th"])


def test_bad_declarations_and_values() -> None:
    with pytest.raises(InvalidInput):
        KeyNormaliser(())
    with pytest.raises(InvalidInput):
        KeyNormaliser(("a",), date_formats={"b": ("%Y",)})
    norm = KeyNormaliser(("a",))
    with pytest.raises(InvalidInput):
        norm.key([None])
    with pytest.raises(InvalidInput):
        norm.key(["a", "b"])
    assert KeyNormaliser.from_dict(norm.to_dict()) == norm
