"""Where a node keeps whole protocol messages that peers sent it, until a party reads them."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from insitu.errors import ProtocolAbort, Unavailable
from insitu.federation.messages import MessageKey


class Inbox(ABC):
    """Stores complete incoming messages by ``(collab_id, sender, receiver, msg_id)``.

    Implementations MUST make :meth:`put` idempotent: storing the same key with
    the same payload again returns ``False`` and changes nothing; MUST NOT
    overwrite a stored payload (the same key with other bytes raises
    :class:`ProtocolAbort`); MUST make :meth:`get` return a stored payload as
    often as asked (a party that restarts reads it again) and block until the
    message arrives or ``timeout`` passes, then raise :class:`Unavailable`;
    MUST be safe to call from several threads.
    """

    @abstractmethod
    def put(self, key: MessageKey, payload: bytes) -> bool:
        """Store a message; ``True`` if it is new, ``False`` for an exact repeat."""

    def put_checked(self, key: MessageKey, payload: bytes, *, sha256: bytes) -> bool:
        """:meth:`put` for a payload whose SHA-256 the caller has just checked.

        Implementations MAY use ``sha256`` instead of hashing the payload again;
        callers MUST pass the digest of exactly ``payload``.
        """
        return self.put(key, payload)

    @abstractmethod
    def get(self, key: MessageKey, *, timeout: float | None = None) -> bytes:
        """Return the message under ``key``, waiting up to ``timeout`` s (``None``: forever)."""

    @abstractmethod
    def discard(self, collab_id: str) -> int:
        """Forget every message of a collaboration (after it ended); return how many."""


class MemoryInbox(Inbox):
    """An :class:`Inbox` in process memory, for tests and single-process simulation."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._messages: dict[MessageKey, bytes] = {}

    def put(self, key: MessageKey, payload: bytes) -> bool:
        with self._cond:
            held = self._messages.get(key)
            if held is not None:
                if held != payload:
                    raise ProtocolAbort(
                        f"message {key[3]!r} from {key[1]!r} arrived twice, differing"
                    )
                return False
            self._messages[key] = bytes(payload)
            self._cond.notify_all()
            return True

    def get(self, key: MessageKey, *, timeout: float | None = None) -> bytes:
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._messages, timeout=timeout):
                raise Unavailable(f"no message {key[3]!r} from {key[1]!r} within {timeout} s")
            return self._messages[key]

    def discard(self, collab_id: str) -> int:
        with self._cond:
            gone = [k for k in self._messages if k[0] == collab_id]
            for k in gone:
                del self._messages[k]
            return len(gone)


__all__ = ["Inbox", "MemoryInbox"]
