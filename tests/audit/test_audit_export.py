"""Audit exports: JSON Lines that an outsider checks with only the public key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import InvalidInput
from insitu.node.audit import (
    AuditEntry,
    ProblemKind,
    append,
    entries_for,
    export_entries,
    load_export,
    make_checkpoint,
    verify_export,
)

KEY = SigningKey.generate()


def chain_of(subjects: list[str]) -> list[AuditEntry]:
    chain: list[AuditEntry] = []
    for i, subject in enumerate(subjects):
        chain.append(
            append(
                chain[-1] if chain else None, at=f"2026-03-01T10:00:{i:02d}Z", actor="node",
                action="collaboration.step", subject=subject, data={"step": i}, key=KEY,
            )
        )  # fmt: skip
    return chain


SUBJECTS = ["collaboration:abc", "request:1", "collaboration:abc", "request:2", "collaboration:x"]


def write(tmp_path: Path) -> tuple[Path, list[AuditEntry]]:
    chain = chain_of(SUBJECTS)
    path = tmp_path / "audit.jsonl"
    n = export_entries(
        chain, path, public_key=KEY.public_key, checkpoint=make_checkpoint(chain[-1], key=KEY)
    )
    assert n == len(chain)
    return path, chain


def test_export_verifies_with_only_the_public_key(tmp_path: Path) -> None:
    path, chain = write(tmp_path)
    public_text = KEY.public_key.to_text()  # all the outsider gets, out of band
    report = verify_export(path, public_key=VerifyKey.from_text(public_text))
    assert report.ok and report.checked == len(chain) and report.checkpoint_seq == len(chain) - 1
    loaded = load_export(path)
    assert list(loaded.entries) == chain
    assert loaded.public_key.raw() == KEY.public_key.raw()


def test_export_checked_against_another_key_fails(tmp_path: Path) -> None:
    path, _chain = write(tmp_path)
    report = verify_export(path, public_key=SigningKey.generate().public_key)
    assert not report.ok
    assert ProblemKind.WRONG_KEY in report.kinds()
    assert report.kinds() >= {ProblemKind.EDITED, ProblemKind.CHECKPOINT_INVALID}


def test_edited_export_line_is_found(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    lines = path.read_text().splitlines()
    entry = json.loads(lines[3])
    entry["data"]["step"] = 99
    lines[3] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    report = verify_export(path, public_key=KEY.public_key)
    assert [(p.seq, p.kind) for p in report.problems] == [(2, ProblemKind.EDITED)]


def test_truncated_export_is_found_through_its_checkpoint(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2]) + "\n")
    report = verify_export(path, public_key=KEY.public_key)
    assert [(p.seq, p.kind) for p in report.problems] == [
        (3, ProblemKind.TRUNCATED),
        (4, ProblemKind.TRUNCATED),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        '{"format": "other"}\n',
        '{"format": "insitu-audit", "version": 9, "public_key": "x"}\n',
        '{"format": "insitu-audit", "version": 1, "public_key": "bad"}\n',
    ],
)
def test_malformed_header_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(InvalidInput):
        load_export(path)


def test_malformed_line_names_its_number(tmp_path: Path) -> None:
    path, _ = write(tmp_path)
    with path.open("a") as out:
        out.write('{"seq": 5}\n')
    with pytest.raises(InvalidInput, match="line 7"):
        load_export(path)


def test_entries_for_picks_one_subject_in_order(tmp_path: Path) -> None:
    path, chain = write(tmp_path)
    mine = entries_for(load_export(path).entries, "collaboration:abc")
    assert [e.seq for e in mine] == [0, 2]
    assert entries_for(chain, "nothing") == []
