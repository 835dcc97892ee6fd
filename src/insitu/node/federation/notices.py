"""Control notices between the parties of a collaboration, and where they are POSTed."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import quote

PROPOSE_PATH = "/peer/v1/collaborations"
EVENTS_PATH = "/peer/v1/collaborations/{collab_id}/events"


class EventKind(StrEnum):
    """What a party tells the others about its own part.

    ``approve`` and ``deny`` are the owner's decision; ``cancel`` ends a live
    collaboration for everyone; ``abort`` says the protocol failed at the
    sender (with the reason), so every party fails cleanly at once instead of
    waiting for its deadline.
    """

    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"
    ABORT = "abort"


def events_path(collab_id: str) -> str:
    return EVENTS_PATH.format(collab_id=quote(collab_id, safe=""))


__all__ = ["EVENTS_PATH", "PROPOSE_PATH", "EventKind", "events_path"]
