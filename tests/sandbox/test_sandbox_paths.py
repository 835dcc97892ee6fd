"""The audit hook's own path resolution agrees with os.path.realpath on any tree."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.node.sandbox.guard import path_resolver

NAMES = ["a", "b", "c"]
COMPONENT = st.sampled_from([*NAMES, "..", ".", "x"])
LINK_TARGETS = st.lists(COMPONENT, min_size=1, max_size=4)


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[str, str, str | None]]:
    """(kind, relative path, link target) rows: directories, files and symlinks."""
    rows: list[tuple[str, str, str | None]] = []
    for parent in ["", "a/", "b/"]:
        for name in NAMES:
            kind = draw(st.sampled_from(["dir", "file", "link", "none"]))
            target = None
            if kind == "link":
                parts = draw(LINK_TARGETS)
                absolute = draw(st.booleans())
                target = ("ROOT/" if absolute else "") + "/".join(parts)
            rows.append((kind, parent + name, target))
    return rows


def build(root: Path, rows: list[tuple[str, str, str | None]]) -> None:
    for kind, rel, target in rows:
        path = root / rel
        if not path.parent.is_dir() or os.path.lexists(path):
            continue
        if kind == "dir":
            path.mkdir()
        elif kind == "file":
            path.write_text("x")
        elif kind == "link" and target is not None:
            path.symlink_to(target.replace("ROOT", str(root)))


@settings(max_examples=60, deadline=None)
@given(rows=trees(), query=st.lists(COMPONENT, min_size=1, max_size=6), relative=st.booleans())
def test_resolver_matches_realpath(
    rows: list[tuple[str, str, str | None]], query: list[str], relative: bool
) -> None:
    resolve = path_resolver()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.path.realpath(tmp))
        build(root, rows)
        path = "/".join(query) if relative else f"{root}/{'/'.join(query)}"
        cwd = os.getcwd()
        os.chdir(root)
        try:
            expected = os.path.realpath(path)
            try:
                assert resolve(path) == expected
            except PermissionError:  # refused as a loop: it must really be one
                with pytest.raises(OSError, match=r"loop|levels of symbolic links"):
                    os.path.realpath(path, strict=True)
        finally:
            os.chdir(cwd)
