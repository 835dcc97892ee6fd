"""Check an audit chain and name every edited, deleted, inserted or moved entry.

How problems are told apart: an entry is *authentic* when its hash matches
its content and its signature is the node's. Without the key nobody can make
an authentic entry, so authentic entries are ground truth for their own
``seq`` and ``prev_hash``. The longest run of authentic entries in
increasing seq order (ties go to the run whose entries are least displaced)
are the *anchors*. Between two anchors, the slots (seq values) that no authentic
entry fills are paired in order with the inauthentic entries found there:
a pair is an **edited** entry, a slot left over was **deleted**, an
inauthentic entry left over was **inserted**. Authentic entries out of place
are **reordered**; an authentic copy of an entry already seen is
**inserted**. Slots past the newest authentic entry up to a signed
checkpoint were **truncated**. Two authentic entries that do not link, or
share a seq with different content, are a **fork**: only the key holder can
make one.

Without a checkpoint, truncation cannot be seen, and an inauthentic entry
after the newest anchor is reported as edited (it could also be appended).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise
from typing import Any, NamedTuple

from insitu.crypto.signing import VerifyKey
from insitu.node.audit.checkpoint import Checkpoint
from insitu.node.audit.entry import GENESIS_HASH, AuditEntry


class ProblemKind(StrEnum):
    """What is wrong at one seq of the chain."""

    EDITED = "edited"  # content or signature does not match: changed after signing
    DELETED = "deleted"  # an entry is missing from the middle
    INSERTED = "inserted"  # an entry is there that the chain does not account for
    REORDERED = "reordered"  # a genuine entry sits out of seq order
    TRUNCATED = "truncated"  # entries missing from the end, seen through the checkpoint
    FORKED = "forked"  # two genuine entries for one seq, or genuine entries that do not link
    CHECKPOINT_INVALID = "checkpoint_invalid"  # the checkpoint is not signed by the key
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # the chain's entry differs from the checkpoint's
    WRONG_KEY = "wrong_key"  # an export names another key than the one checked against


@dataclass(frozen=True)
class Problem:
    """One finding: its kind, the seq it concerns, and a short explanation.

    ``index`` is the entry's position in the checked sequence (``None`` for a
    missing entry or a checkpoint problem).
    """

    seq: int
    kind: ProblemKind
    detail: str
    index: int | None = None


@dataclass(frozen=True)
class VerifyReport:
    """Result of :func:`verify`.

    Attributes
    ----------
    ok:
        True when there is no problem.
    problems:
        Every finding, ordered by seq.
    checked:
        How many entries were read.
    newest_seq:
        Highest seq among authentic entries, -1 if none.
    checkpoint_seq:
        seq of the checkpoint checked against, or ``None``.
    """

    problems: tuple[Problem, ...]
    checked: int
    newest_seq: int
    checkpoint_seq: int | None

    @property
    def ok(self) -> bool:
        return not self.problems

    def kinds(self) -> set[ProblemKind]:
        """The distinct kinds of problem found."""
        return {p.kind for p in self.problems}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: ``ok``, counts and each problem's seq, kind and detail."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "newest_seq": self.newest_seq,
            "checkpoint_seq": self.checkpoint_seq,
            "problems": [
                {"seq": p.seq, "kind": p.kind.value, "detail": p.detail, "index": p.index}
                for p in self.problems
            ],
        }


class _Seen(NamedTuple):
    position: int
    seq: int
    hash: str
    prev_hash: str
    authentic: bool
    detail: str


def verify(
    entries: Iterable[AuditEntry], public_key: VerifyKey, *, head: Checkpoint | None = None
) -> VerifyReport:
    """Check a chain read in storage order against the node's public key.

    Parameters
    ----------
    entries:
        The chain as stored, oldest first. Read once; only hashes are kept.
    public_key:
        The node's key. A wrong key makes every entry count as edited.
    head:
        The node's latest checkpoint. With it, deleting the newest entries is
        detected; entries newer than the checkpoint are accepted when they
        are authentic and link (the node may have stopped before writing it).

    Returns
    -------
    VerifyReport
        Never raises for a damaged chain: every problem is in the report.
    """
    seen = [_inspect(i, e, public_key) for i, e in enumerate(entries)]
    problems: list[Problem] = []
    kept = _drop_forks([s for s in seen if s.authentic], problems)
    by_seq = {s.seq: s for s in kept}
    newest = max(by_seq, default=-1)

    if head is not None and not head.is_valid(public_key):
        problems.append(
            Problem(head.seq, ProblemKind.CHECKPOINT_INVALID, "checkpoint not signed by this key")
        )
        head = None
    end = newest if head is None else max(newest, head.seq)

    anchors = _anchors(kept, problems)
    _place_inauthentic(seen, anchors, by_seq, newest, end, head is not None, problems)
    _check_links(by_seq, problems)
    if head is not None and head.seq in by_seq and by_seq[head.seq].hash != head.hash:
        problems.append(
            Problem(head.seq, ProblemKind.CHECKPOINT_MISMATCH, "entry differs from the checkpoint")
        )
    problems.sort(key=lambda p: (p.seq, p.kind.value))
    return VerifyReport(
        problems=tuple(problems),
        checked=len(seen),
        newest_seq=newest,
        checkpoint_seq=None if head is None else head.seq,
    )


def _inspect(index: int, entry: AuditEntry, public_key: VerifyKey) -> _Seen:
    authentic = entry.is_authentic(public_key)
    detail = ""
    if not authentic:
        try:
            matches = entry.compute_hash() == entry.hash
        except ValueError:
            matches = False
        detail = "signature is not the node's" if matches else "hash does not match the content"
    return _Seen(index, entry.seq, entry.hash, entry.prev_hash, authentic, detail)


def _drop_forks(authentic: list[_Seen], problems: list[Problem]) -> list[_Seen]:
    """Keep authentic entries agreeing with the first one seen per seq; report the rest."""
    first: dict[int, str] = {}
    kept: list[_Seen] = []
    for s in authentic:
        digest = first.setdefault(s.seq, s.hash)
        if digest == s.hash:
            kept.append(s)
        else:
            problems.append(Problem(s.seq, ProblemKind.FORKED, "two signed entries", s.position))
    return kept


def _anchors(kept: list[_Seen], problems: list[Problem]) -> list[_Seen]:
    """The longest run of authentic entries in seq order; report the others.

    Among equally long runs, the one whose entries sit closest to where their
    rank says wins, so a swap reports the two swapped entries only. An entry
    left out is a copy (``inserted``) when another copy of it is in the run,
    else ``reordered``.
    """
    if all(a.seq < b.seq for a, b in pairwise(kept)):
        return kept  # the usual case: already in order
    ranks = {seq: r for r, seq in enumerate(sorted({s.seq for s in kept}))}
    chosen = set(_heaviest_increasing([ranks[s.seq] for s in kept]))
    in_run = {kept[i].seq for i in chosen}
    reported: set[int] = set()
    anchors = []
    for i, s in enumerate(kept):
        if i in chosen:
            anchors.append(s)
        elif s.seq in in_run or s.seq in reported:
            problems.append(Problem(s.seq, ProblemKind.INSERTED, "copy of an entry", s.position))
        else:
            reported.add(s.seq)
            problems.append(Problem(s.seq, ProblemKind.REORDERED, "out of seq order", s.position))
    return anchors


def _heaviest_increasing(ranks: list[int]) -> list[int]:
    """Indices of a longest strictly increasing subsequence, least displaced first.

    Weighted LIS in O(n log n) with a Fenwick tree of prefix maxima over rank;
    the weight ``big - |index - rank|`` makes length dominate displacement.
    """
    n = len(ranks)
    big = (n + 1) * (n + 1)
    tree: list[tuple[int, int]] = [(0, -1)] * (n + 1)  # (best weight, index) per rank prefix
    best: list[int] = [0] * n
    parent: list[int] = [-1] * n
    for i, r in enumerate(ranks):
        weight, j, k = 0, -1, r  # query ranks < r: Fenwick positions 1..r
        while k > 0:
            if tree[k][0] > weight:
                weight, j = tree[k]
            k -= k & -k
        best[i] = weight + big - abs(i - r)
        parent[i] = j
        k = r + 1
        while k <= n:
            if best[i] > tree[k][0]:
                tree[k] = (best[i], i)
            k += k & -k
    if n == 0:
        return []
    i = max(range(n), key=best.__getitem__)
    run = []
    while i != -1:
        run.append(i)
        i = parent[i]
    return run[::-1]


def _place_inauthentic(
    seen: list[_Seen],
    anchors: list[_Seen],
    by_seq: dict[int, _Seen],
    newest: int,
    end: int,
    bounded: bool,
    problems: list[Problem],
) -> None:
    """Pair inauthentic entries with the empty slots between anchors."""
    bounds = [(-1, -1)] + [(a.position, a.seq) for a in anchors] + [(len(seen), end + 1)]
    for (lo_index, lo_seq), (hi_index, hi_seq) in pairwise(bounds):
        stray = [s for s in seen[lo_index + 1 : hi_index] if not s.authentic]
        empty = [q for q in range(lo_seq + 1, hi_seq) if q not in by_seq]
        for s, q in zip(stray, empty, strict=False):
            problems.append(Problem(q, ProblemKind.EDITED, s.detail, s.position))
        for q in empty[len(stray) :]:
            if q > newest:
                problems.append(Problem(q, ProblemKind.TRUNCATED, "missing after the newest entry"))
            else:
                problems.append(Problem(q, ProblemKind.DELETED, "entry missing"))
        extra = stray[len(empty) :]
        last_segment = hi_index == len(seen)
        for n, s in enumerate(extra):
            if last_segment and not bounded:
                # Past the newest anchor without a checkpoint: an edit of the tail.
                problems.append(Problem(hi_seq + n, ProblemKind.EDITED, s.detail, s.position))
            else:
                problems.append(Problem(s.seq, ProblemKind.INSERTED, s.detail, s.position))


def _check_links(by_seq: dict[int, _Seen], problems: list[Problem]) -> None:
    """Each authentic entry must point at the authentic entry before it."""
    for seq, s in by_seq.items():
        if seq == 0 and s.prev_hash != GENESIS_HASH:
            problems.append(Problem(0, ProblemKind.FORKED, "first entry does not start a chain"))
        before = by_seq.get(seq - 1)
        if before is not None and s.prev_hash != before.hash:
            problems.append(Problem(seq, ProblemKind.FORKED, "does not link to the entry before"))
