"""Editing, deleting or reordering audit rows directly in the database is detected."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from insitu.node.audit import ProblemKind
from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.settings import NodeSettings


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    init_node(tmp_path / "n", name="t")
    node = Node(NodeSettings.load(tmp_path / "n"))
    for name in ("a", "b", "c", "d"):
        node.members.add(name, "analyst", by="owner")
    assert node.audit.verify().ok
    node.store.close()
    return tmp_path / "n"


def _verify(node_dir: Path) -> set[ProblemKind]:
    node = Node(NodeSettings.load(node_dir))
    try:
        return node.audit.verify().kinds()
    finally:
        node.store.close()


def _sql(node_dir: Path, statement: str) -> None:
    with sqlite3.connect(node_dir / "node.db") as conn:
        conn.execute(statement)


def test_edited_entry_is_found(node_dir: Path) -> None:
    _sql(node_dir, "UPDATE audit SET actor = 'someone-else' WHERE seq = 3")
    assert _verify(node_dir)


def test_deleted_entry_is_found(node_dir: Path) -> None:
    _sql(node_dir, "DELETE FROM audit WHERE seq = 4")
    assert _verify(node_dir)


def test_truncated_tail_is_found(node_dir: Path) -> None:
    _sql(node_dir, "DELETE FROM audit WHERE seq >= (SELECT MAX(seq) - 1 FROM audit)")
    assert _verify(node_dir)


def test_reordered_entries_are_found(node_dir: Path) -> None:
    _sql(node_dir, "UPDATE audit SET seq = -1 WHERE seq = 2")
    _sql(node_dir, "UPDATE audit SET seq = 2 WHERE seq = 5")
    _sql(node_dir, "UPDATE audit SET seq = 5 WHERE seq = -1")
    assert _verify(node_dir)


def test_export_checks_with_public_key_only(node_dir: Path, tmp_path: Path) -> None:
    from insitu.node.audit import verify_export

    node = Node(NodeSettings.load(node_dir))
    out = tmp_path / "audit.jsonl"
    count = node.audit.export(out)
    node.store.close()
    assert count > 5
    assert verify_export(out).ok
    lines = out.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"member.added"' in line)
    lines[index] = lines[index].replace('"member.added"', '"member.removed"')
    out.write_text("\n".join(lines) + "\n")
    assert not verify_export(out).ok


def test_missing_checkpoint_is_reported(node_dir: Path) -> None:
    (node_dir / "audit.head").unlink()
    assert ProblemKind.TRUNCATED in _verify(node_dir)
