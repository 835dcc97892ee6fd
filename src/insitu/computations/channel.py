"""The Channel: how a computation's parties exchange bytes.

A computation never knows whether its peers are in the same process
(:class:`InMemoryHub`) or on other nodes over signed HTTP; it only sends
and receives bytes to and from named parties. Messages carry an id chosen
by the sender; delivering the same id twice is a no-op, so a retried send
is always safe.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod

from insitu.errors import InvalidInput, PayloadTooLarge, ProtocolAbort, Unavailable

DEFAULT_MAX_MESSAGE = 1 << 30  # 1 GiB


class Channel(ABC):
    """One party's end of a computation's message exchange.

    Implementations MUST deliver each (sender, message id) at most once,
    MUST keep the order of messages between one sender and one receiver,
    and MUST refuse messages larger than ``max_message_bytes``.
    """

    me: str
    parties: tuple[str, ...]
    max_message_bytes: int

    @abstractmethod
    def send(self, to: str, msg_id: str, payload: bytes) -> None:
        """Send ``payload`` to party ``to``; resending the same ``msg_id`` is a no-op."""

    @abstractmethod
    def receive(self, sender: str, msg_id: str, *, timeout: float | None = None) -> bytes:
        """Block until message ``msg_id`` from ``sender`` arrives and return it.

        Raises :class:`Unavailable` after ``timeout`` seconds.
        """

    def _check(self, to: str, payload: bytes) -> None:
        if to not in self.parties or to == self.me:
            raise InvalidInput(f"unknown party {to!r}; parties are {', '.join(self.parties)}")
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError("payload must be bytes")
        if len(payload) > self.max_message_bytes:
            raise PayloadTooLarge(
                f"message of {len(payload)} bytes exceeds the limit of {self.max_message_bytes}"
            )


class InMemoryHub:
    """Routes messages between parties living in one process (tests, simulation)."""

    def __init__(self, parties: list[str], *, max_message_bytes: int = DEFAULT_MAX_MESSAGE) -> None:
        if len(set(parties)) != len(parties):
            raise InvalidInput("party names must be distinct")
        self.parties = tuple(parties)
        self.max_message_bytes = max_message_bytes
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str, str]] = set()
        self._boxes: dict[tuple[str, str], dict[str, bytes]] = {}
        self._cond = threading.Condition(self._lock)

    def channel(self, me: str) -> InMemoryChannel:
        if me not in self.parties:
            raise InvalidInput(f"unknown party {me!r}")
        return InMemoryChannel(self, me)

    def _deliver(self, sender: str, to: str, msg_id: str, payload: bytes) -> None:
        with self._cond:
            key = (sender, to, msg_id)
            if key in self._seen:
                return
            self._seen.add(key)
            self._boxes.setdefault((sender, to), {})[msg_id] = bytes(payload)
            self._cond.notify_all()

    def _take(self, sender: str, to: str, msg_id: str, timeout: float | None) -> bytes:
        with self._cond:
            box = self._boxes.setdefault((sender, to), {})
            if not self._cond.wait_for(lambda: msg_id in box, timeout=timeout):
                raise Unavailable(f"no message {msg_id!r} from {sender!r} within {timeout} s")
            return box.pop(msg_id)


class InMemoryChannel(Channel):
    """A party's end of an :class:`InMemoryHub`."""

    def __init__(self, hub: InMemoryHub, me: str) -> None:
        self._hub = hub
        self.me = me
        self.parties = hub.parties
        self.max_message_bytes = hub.max_message_bytes

    def send(self, to: str, msg_id: str, payload: bytes) -> None:
        self._check(to, payload)
        self._hub._deliver(self.me, to, msg_id, payload)

    def receive(self, sender: str, msg_id: str, *, timeout: float | None = None) -> bytes:
        if sender not in self.parties:
            raise ProtocolAbort(f"receive from unknown party {sender!r}")
        return self._hub._take(sender, self.me, msg_id, timeout)


__all__ = ["DEFAULT_MAX_MESSAGE", "Channel", "InMemoryChannel", "InMemoryHub"]
