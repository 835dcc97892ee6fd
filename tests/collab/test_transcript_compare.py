"""``compare_transcripts`` names every way two parties' records of a collaboration differ."""

from __future__ import annotations

from typing import Any

import pytest

from insitu.errors import InvalidInput
from insitu.node.federation.transcript import compare_transcripts

SPEC = "ab" * 32


def entry(me: str, action: str, spec: str = SPEC, **data: Any) -> dict[str, Any]:
    body = {"collab_id": "c1", "spec_hash": spec, "me": me, **data}
    return {"subject": f"collaboration:{spec}", "action": action, "data": body}


def sent(me: str, to: str, msg: str, h: str) -> dict[str, Any]:
    return entry(me, "collab.message_sent", party=to, msg_id=msg, sha256=h)


def got(me: str, frm: str, msg: str, h: str) -> dict[str, Any]:
    return entry(me, "collab.message_received", party=frm, msg_id=msg, sha256=h)


A = [
    entry("a", "collab.proposed"),
    sent("a", "b", "share", "11"),
    got("a", "b", "share", "22"),
    got("a", "b", "partial", "33"),
    entry("a", "collab.done", result_sha256="ff"),
]
B = [
    entry("b", "collab.received"),
    got("b", "a", "share", "11"),
    sent("b", "a", "share", "22"),
    sent("b", "a", "partial", "33"),
    entry("b", "collab.done"),
]


def test_matching_transcripts() -> None:
    report = compare_transcripts(A, B, collab_id="c1")
    assert report.ok
    assert report.parties == ("a", "b")
    assert report.spec_hash == SPEC
    assert report.matched_messages == 3
    assert report.outcomes == ("done", "done")


def test_every_difference_is_named() -> None:
    forged = [*B[:2], sent("b", "a", "share", "99"), *B[3:], sent("b", "a", "extra", "44")]
    report = compare_transcripts(A, forged, collab_id="c1")
    assert not report.ok
    assert set(report.problems) == {
        "message 'share' from b to a differs in hash",
        "b sent 'extra' to a, who records no such message",
    }


def test_another_spec_or_the_same_party_is_reported() -> None:
    other = [entry("b", "collab.received", spec="cd" * 32)]
    other[0]["data"]["collab_id"] = "c1"
    report = compare_transcripts(A, other, collab_id="c1")
    assert "the parties record different spec hashes" in report.problems
    assert (
        "both exports come from the same party"
        in compare_transcripts(A, A, collab_id="c1").problems
    )


def test_an_export_without_the_collaboration_is_refused() -> None:
    with pytest.raises(InvalidInput):
        compare_transcripts(A, [], collab_id="c1")
