"""Audit chain: append, verify, and detection of every single kind of tampering."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput
from insitu.node.audit import (
    GENESIS_HASH,
    AuditEntry,
    Checkpoint,
    ProblemKind,
    append,
    make_checkpoint,
    read_checkpoint,
    verify,
    write_checkpoint,
)

KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()
PUBLIC = KEY.public_key

ACTIONS = ["request.submitted", "request.approved", "dataset.added", "member.added"]


def make_chain(n: int, key: SigningKey = KEY) -> list[AuditEntry]:
    chain: list[AuditEntry] = []
    for i in range(n):
        chain.append(
            append(
                chain[-1] if chain else None,
                at=f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00",
                actor="alice" if i % 2 else "policy:small-dp",
                action=ACTIONS[i % len(ACTIONS)],
                subject=f"request:{i}",
                data={"epsilon": 0.1 * i, "note": "ü", "items": [i, None, True]},
                key=key,
            )
        )
    return chain


CHAIN = make_chain(12)


def problems_of(report: Any) -> list[tuple[int, ProblemKind]]:
    return [(p.seq, p.kind) for p in report.problems]


# -- append ---------------------------------------------------------------


def test_append_links_hashes_and_numbers_entries() -> None:
    assert CHAIN[0].seq == 0 and CHAIN[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(CHAIN):
        assert after.seq == before.seq + 1
        assert after.prev_hash == before.hash
        assert after.hash == after.compute_hash()
    assert len({e.hash for e in CHAIN}) == len(CHAIN)


def test_entry_round_trips_through_dict() -> None:
    for entry in CHAIN:
        assert AuditEntry.from_dict(entry.to_dict()) == entry


def test_data_is_normalised_to_json() -> None:
    entry = append(
        None, at="2026-01-01T00:00:00Z", actor="a", action="x.y", subject="s",
        data={"t": (1, 2)}, key=KEY,
    )  # fmt: skip
    assert entry.data == {"t": [1, 2]}
    assert verify([entry], PUBLIC).ok


@pytest.mark.parametrize("at", ["yesterday", "2026-01-01T00:00:00+02:00", "2026-01-01T00:00:00"])
def test_append_refuses_non_utc_timestamps(at: str) -> None:
    with pytest.raises(InvalidInput):
        append(None, at=at, actor="a", action="x.y", subject="s", data={}, key=KEY)


@pytest.mark.parametrize("data", [{"x": float("nan")}, {"x": object()}])
def test_append_refuses_non_json_data(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        append(
            None, at="2026-01-01T00:00:00Z", actor="a", action="x.y", subject="s", data=data,
            key=KEY,
        )  # fmt: skip


def test_from_dict_refuses_wrong_shapes() -> None:
    good = CHAIN[0].to_dict()
    with pytest.raises(InvalidInput):
        AuditEntry.from_dict({**good, "extra": 1})
    with pytest.raises(InvalidInput):
        AuditEntry.from_dict({**good, "seq": "0"})
    with pytest.raises(InvalidInput):
        AuditEntry.from_dict([good])


# -- verify: clean chains -------------------------------------------------


@given(st.integers(min_value=0, max_value=len(CHAIN)))
def test_clean_chain_verifies_with_and_without_checkpoint(n: int) -> None:
    chain = CHAIN[:n]
    report = verify(chain, PUBLIC)
    assert report.ok and report.checked == n and report.newest_seq == n - 1
    if n:
        head = make_checkpoint(chain[-1], key=KEY)
        assert verify(chain, PUBLIC, head=head).ok


def test_entries_past_the_checkpoint_are_accepted() -> None:
    head = make_checkpoint(CHAIN[5], key=KEY)
    report = verify(CHAIN, PUBLIC, head=head)
    assert report.ok and report.checkpoint_seq == 5


def test_wrong_key_fails_every_entry() -> None:
    report = verify(CHAIN, OTHER_KEY.public_key)
    assert problems_of(report) == [(e.seq, ProblemKind.EDITED) for e in CHAIN]
    assert all("signature" in p.detail for p in report.problems)
    summary = report.to_dict()
    assert summary["ok"] is False and summary["checked"] == len(CHAIN)
    assert summary["problems"][0] == {
        "seq": 0,
        "kind": "edited",
        "detail": "signature is not the node's",
        "index": 0,
    }


# -- verify: single faults, property-based --------------------------------

EDITABLE = ["seq", "at", "actor", "action", "subject", "data", "prev_hash", "hash", "signature"]


def edited(entry: AuditEntry, field: str, rehash: bool) -> AuditEntry:
    value = getattr(entry, field)
    if field == "seq":
        new: Any = value + 7
    elif field == "data":
        new = {**value, "epsilon": 99.0}
    elif field in ("hash", "prev_hash"):
        new = ("f" if value[0] != "f" else "e") + value[1:]
    elif field == "signature":
        new = ("A" if value[0] != "A" else "B") + value[1:]
    else:
        new = value + "!"
    changed = dataclasses.replace(entry, **{field: new})
    if rehash and field not in ("hash", "signature"):
        changed = dataclasses.replace(changed, hash=changed.compute_hash())
    return changed


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=len(CHAIN)),
    data=st.data(),
    field=st.sampled_from(EDITABLE),
    rehash=st.booleans(),
    with_head=st.booleans(),
)
def test_any_single_edit_is_found_at_its_seq(
    n: int, data: st.DataObject, field: str, rehash: bool, with_head: bool
) -> None:
    chain = CHAIN[:n]
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    tampered = [*chain[:i], edited(chain[i], field, rehash), *chain[i + 1 :]]
    head = make_checkpoint(chain[-1], key=KEY) if with_head else None
    report = verify(tampered, PUBLIC, head=head)
    assert problems_of(report) == [(i, ProblemKind.EDITED)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=2, max_value=len(CHAIN)), data=st.data(), with_head=st.booleans())
def test_any_single_deletion_is_found(n: int, data: st.DataObject, with_head: bool) -> None:
    chain = CHAIN[:n]
    i = data.draw(st.integers(min_value=0, max_value=n - 2))  # not the newest: that is truncation
    head = make_checkpoint(chain[-1], key=KEY) if with_head else None
    report = verify([*chain[:i], *chain[i + 1 :]], PUBLIC, head=head)
    assert problems_of(report) == [(i, ProblemKind.DELETED)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=2, max_value=len(CHAIN)), data=st.data(), with_head=st.booleans())
def test_any_swap_is_found_as_reordering_of_the_swapped_entries(
    n: int, data: st.DataObject, with_head: bool
) -> None:
    chain = list(CHAIN[:n])
    i = data.draw(st.integers(min_value=0, max_value=n - 2))
    j = data.draw(st.integers(min_value=i + 1, max_value=n - 1))
    head = make_checkpoint(chain[-1], key=KEY) if with_head else None
    chain[i], chain[j] = chain[j], chain[i]
    found = problems_of(verify(chain, PUBLIC, head=head))
    assert found, "a swap must be reported"
    assert {kind for _, kind in found} == {ProblemKind.REORDERED}
    assert {seq for seq, _ in found} <= {i, j}


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=1, max_value=len(CHAIN)), data=st.data())
def test_any_truncation_is_found_through_the_checkpoint(n: int, data: st.DataObject) -> None:
    chain = CHAIN[:n]
    keep = data.draw(st.integers(min_value=0, max_value=n - 1))
    head = make_checkpoint(chain[-1], key=KEY)
    assert verify(chain[:keep], PUBLIC).ok  # the chain alone cannot tell
    report = verify(chain[:keep], PUBLIC, head=head)
    assert problems_of(report) == [(q, ProblemKind.TRUNCATED) for q in range(keep, n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=1, max_value=len(CHAIN)), data=st.data(), forged=st.booleans())
def test_any_insertion_is_found(n: int, data: st.DataObject, forged: bool) -> None:
    chain = CHAIN[:n]
    head = make_checkpoint(chain[-1], key=KEY)
    at = data.draw(st.integers(min_value=0, max_value=n))
    source = chain[data.draw(st.integers(min_value=0, max_value=n - 1))]
    extra = edited(source, "actor", rehash=True) if forged else source
    report = verify([*chain[:at], extra, *chain[at:]], PUBLIC, head=head)
    assert problems_of(report) == [(source.seq, ProblemKind.INSERTED)]


def test_a_moved_entry_is_the_only_one_reported() -> None:
    chain = list(CHAIN)
    moved = chain.pop(2)
    chain.insert(9, moved)
    assert problems_of(verify(chain, PUBLIC)) == [(2, ProblemKind.REORDERED)]


# -- forks and checkpoints --------------------------------------------------


def test_a_second_signed_history_is_a_fork() -> None:
    other = append(
        CHAIN[3], at="2026-01-02T00:00:00Z", actor="mallory", action="x.y", subject="s",
        data={}, key=KEY,
    )  # fmt: skip
    report = verify([*CHAIN[:5], other], PUBLIC)
    assert problems_of(report) == [(4, ProblemKind.FORKED)]
    unlinked = dataclasses.replace(CHAIN[5], prev_hash=CHAIN[1].hash)
    unlinked = sign(dataclasses.replace(unlinked, hash=unlinked.compute_hash()))
    report = verify([*CHAIN[:5], unlinked], PUBLIC)
    assert problems_of(report) == [(5, ProblemKind.FORKED)]


def sign(entry: AuditEntry) -> AuditEntry:
    from insitu.node.audit.entry import ENTRY_DOMAIN, encode_signature

    signature = encode_signature(KEY.sign(ENTRY_DOMAIN + entry.hash.encode()))
    return dataclasses.replace(entry, signature=signature)


def test_checkpoint_from_another_key_is_reported() -> None:
    head = make_checkpoint(CHAIN[-1], key=OTHER_KEY)
    report = verify(CHAIN, PUBLIC, head=head)
    assert problems_of(report) == [(len(CHAIN) - 1, ProblemKind.CHECKPOINT_INVALID)]


def test_checkpoint_naming_another_entry_is_reported() -> None:
    head = make_checkpoint(CHAIN[-1], key=KEY)
    wrong = Checkpoint.from_dict({**head.to_dict(), "seq": 4})
    assert not wrong.is_valid(PUBLIC)
    honest_but_other = make_checkpoint(dataclasses.replace(CHAIN[4], hash="a" * 64), key=KEY)
    report = verify(CHAIN, PUBLIC, head=honest_but_other)
    assert problems_of(report) == [(4, ProblemKind.CHECKPOINT_MISMATCH)]


def test_entry_signature_is_not_a_checkpoint_signature() -> None:
    entry = CHAIN[3]
    forged = Checkpoint(seq=entry.seq, hash=entry.hash, signature=entry.signature)
    assert not forged.is_valid(PUBLIC)


def test_checkpoint_file_round_trip(tmp_path: Any) -> None:
    path = tmp_path / "audit.head"
    assert read_checkpoint(path) is None
    head = make_checkpoint(CHAIN[-1], key=KEY)
    write_checkpoint(path, head)
    assert read_checkpoint(path) == head
    assert Checkpoint.from_json(head.to_json()) == head
    path.write_text("{not json")
    with pytest.raises(InvalidInput):
        read_checkpoint(path)


# -- any mix of faults ------------------------------------------------------

FAULTS = st.lists(
    st.tuples(
        st.sampled_from(["edit", "delete", "swap", "copy", "forge"]),
        st.integers(min_value=0, max_value=100),
        st.integers(min_value=0, max_value=100),
        st.sampled_from(EDITABLE),
    ),
    max_size=4,
)


def damage(chain: list[AuditEntry], faults: list[tuple[str, int, int, str]]) -> list[AuditEntry]:
    out = list(chain)
    for op, a, b, field in faults:
        if not out:
            break
        i, j = a % len(out), b % len(out)
        if op == "edit":
            out[i] = edited(out[i], field, rehash=bool(b % 2))
        elif op == "delete":
            del out[i]
        elif op == "swap":
            out[i], out[j] = out[j], out[i]
        elif op == "copy":
            out.insert(j, out[i])
        else:
            out.insert(j, edited(out[i], "subject", rehash=True))
    return out


@settings(max_examples=80, deadline=None)
@given(n=st.integers(min_value=0, max_value=len(CHAIN)), faults=FAULTS)
def test_any_mix_of_faults_is_never_missed_and_never_crashes(
    n: int, faults: list[tuple[str, int, int, str]]
) -> None:
    chain = CHAIN[:n]
    damaged = damage(chain, faults)
    without_head = verify(damaged, PUBLIC)
    assert without_head.ok == (damaged == chain[: len(damaged)])  # only truncation is invisible
    if chain:
        with_head = verify(damaged, PUBLIC, head=make_checkpoint(chain[-1], key=KEY))
        assert with_head.ok == (damaged == chain)
