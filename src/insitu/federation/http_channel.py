"""A :class:`~insitu.computations.channel.Channel` between nodes over signed HTTP.

``send`` splits a payload into frames (:mod:`insitu.federation.messages`), signs
each POST with the node key (:mod:`insitu.federation.signing`) and delivers it to
``POST {peer_url}/peer/v1/collaborations/{collab_id}/messages``, retrying with
exponential backoff on connection errors, timeouts, 429 and 5xx until the send
deadline; a retry is safe because the receiver deduplicates by message id and
chunk. ``receive`` waits on this node's :class:`~insitu.federation.inbox.Inbox`,
which the node's route (:class:`~insitu.federation.inbound.PeerInbound`) fills.

Failures: a peer that stays unreachable past the deadline raises
:class:`~insitu.errors.Unavailable`; a peer that refuses the signature (401/403)
raises :class:`~insitu.errors.SecurityError`; one that refuses the frame as a
protocol violation (other 4xx) raises :class:`~insitu.errors.ProtocolAbort`.
None of these is retried by the channel; the job fails cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

import httpx

from insitu.computations.channel import DEFAULT_MAX_MESSAGE, Channel
from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput, ProtocolAbort, SecurityError, Unavailable
from insitu.federation.inbound import messages_path
from insitu.federation.inbox import Inbox
from insitu.federation.messages import DEFAULT_CHUNK_BYTES, Chunker, Envelope
from insitu.federation.signing import sign_request

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
#: A frame signed ahead is signed again if it waited this long (the receiver's
#: skew window is minutes; a long retry of the frame before it must not expire it).
_RESIGN_AFTER_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How ``send`` retries: backoff doubles from ``initial`` up to ``maximum`` seconds,
    and gives up once ``deadline`` seconds have passed since the send began.

    Each attempt may take ``request_timeout`` seconds, cut to the time left
    before the deadline but never below ``min_attempt`` (so an attempt made just
    before the deadline still has a fair chance; a send may overrun its deadline
    by at most ``min_attempt``)."""

    deadline: float = 60.0
    initial: float = 0.05
    maximum: float = 2.0
    request_timeout: float = 30.0
    min_attempt: float = 1.0

    def __post_init__(self) -> None:
        for name in ("deadline", "initial", "maximum", "request_timeout", "min_attempt"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RetryPolicy.{name} must be positive")


@dataclass(frozen=True)
class _Signed:
    """A frame's body with the signed headers of its first attempt."""

    body: bytes
    headers: dict[str, str]
    at: float


class HttpChannel(Channel):
    """One node's end of a collaboration's message exchange over signed HTTP.

    Parameters
    ----------
    me:
        This node's party name in the collaboration.
    collab_id:
        The collaboration these messages belong to.
    peers:
        Every other party's name and base URL (``https://node-b.example``).
    key:
        This node's signing key; the key id sent is its public key's fingerprint.
    inbox:
        Where the node's route stores messages that peers sent to this node.
    client:
        An ``httpx.Client`` to reuse (connection pooling, TLS settings); one is
        created (and closed by :meth:`close`) when omitted.
    max_in_flight:
        How many frames of one large message are POSTed at once (the receiver
        reassembles in any order); 1 sends them one after another.
    clock, sleep:
        Time source (Unix seconds) and sleep function, injectable for tests.
    """

    def __init__(
        self,
        *,
        me: str,
        collab_id: str,
        peers: Mapping[str, str],
        key: SigningKey,
        inbox: Inbox,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE,
        max_in_flight: int = 1,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if me in peers:
            raise InvalidInput(f"{me!r} is listed among its own peers")
        self.me = me
        self.parties = (me, *peers)
        self.max_message_bytes = max_message_bytes
        self.collab_id = collab_id
        path = messages_path(collab_id)
        self._targets = {name: httpx.URL(url.rstrip("/") + path) for name, url in peers.items()}
        self._key = key
        self._key_id = key.public_key.fingerprint()
        self._inbox = inbox
        self._owns_client = client is None
        self._client = client or httpx.Client()
        self._retry = retry or RetryPolicy()
        self._chunker = Chunker(chunk_bytes)
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._in_flight = max_in_flight
        self._clock = clock
        self._sleep = sleep

    def send(self, to: str, msg_id: str, payload: bytes) -> None:
        """Deliver ``payload`` to ``to``; raises :class:`Unavailable` past the deadline."""
        self._check(to, payload)
        deadline = self._clock() + self._retry.deadline
        frames = self._chunker.split(
            payload, collab_id=self.collab_id, sender=self.me, receiver=to, msg_id=msg_id
        )
        count = self._chunker.count(len(payload))
        if count == 1:
            self._post(to, self._prepare(next(frames)), deadline)
            return
        if self._in_flight == 1:
            # One frame at a time; the next is taken (its chunk hashed into the
            # message's SHA-256, which the last frame carries), encoded and signed
            # in a helper thread while this one is on the wire.
            with ThreadPoolExecutor(1, thread_name_prefix="insitu-sign") as signer:

                def prepare_next() -> _Signed:
                    return self._prepare(next(frames))

                ahead = signer.submit(prepare_next)
                for _ in range(count - 1):
                    ready = ahead.result()
                    ahead = signer.submit(prepare_next)
                    self._post(to, ready, deadline)
                self._post(to, ahead.result(), deadline)
            return
        with ThreadPoolExecutor(self._in_flight, thread_name_prefix="insitu-send") as pool:
            posts = [
                pool.submit(lambda f: self._post(to, self._prepare(f), deadline), f) for f in frames
            ]
            done, _ = wait(posts, return_when=FIRST_EXCEPTION)
            for post in posts:
                post.cancel()
            for post in done:
                post.result()  # raises a failure, if any

    def receive(self, sender: str, msg_id: str, *, timeout: float | None = None) -> bytes:
        """Wait for message ``msg_id`` from ``sender`` in this node's inbox."""
        if sender not in self.parties or sender == self.me:
            raise ProtocolAbort(f"receive from unknown party {sender!r}")
        return self._inbox.get((self.collab_id, sender, self.me, msg_id), timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client if this channel created it."""
        if self._owns_client:
            self._client.close()

    def _sign(self, to: str, body: bytes) -> dict[str, str]:
        target = self._targets[to].raw_path.decode("ascii")  # as the server sees it
        headers = sign_request(
            self._key, method="POST", path=target, body=body, now=self._clock(),
            key_id=self._key_id,
        )  # fmt: skip
        headers["Content-Type"] = "application/octet-stream"
        return headers

    def _prepare(self, frame: Envelope) -> _Signed:
        body = frame.to_bytes()
        at = self._clock()
        return _Signed(body, self._sign(frame.receiver, body), at)

    def _post(self, to: str, signed: _Signed, deadline: float) -> None:
        body = signed.body
        url = self._targets[to]
        delay = self._retry.initial
        attempt = 0
        while True:
            attempt += 1
            # a retry, or a first attempt long after signing, is signed afresh
            fresh = attempt == 1 and self._clock() - signed.at < _RESIGN_AFTER_SECONDS
            headers = signed.headers if fresh else self._sign(to, body)
            left = deadline - self._clock()
            timeout = min(self._retry.request_timeout, max(left, self._retry.min_attempt))
            try:
                response = self._client.post(url, content=body, headers=headers, timeout=timeout)
            except httpx.TransportError:
                problem = "connection failed"
            else:
                status = response.status_code
                if status < 300:
                    return
                if status in (401, 403):
                    raise SecurityError(f"peer {to!r} refused this node's signature")
                if status not in _RETRY_STATUS:
                    raise ProtocolAbort(
                        f"peer {to!r} refused message frame (HTTP {status}){_why(response)}"
                    )
                problem = f"HTTP {status}"
            wait = min(delay, deadline - self._clock())
            if wait <= 0:
                raise Unavailable(
                    f"peer {to!r} unreachable: {problem} after {attempt} attempt(s) "
                    f"within {self._retry.deadline} s"
                )
            self._sleep(wait)
            delay = min(delay * 2, self._retry.maximum)


def _why(response: httpx.Response) -> str:
    """The peer's stated reason for refusing a frame (an insitu error body), if any."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f": {str(message)[:300]}" if message else ""


__all__ = ["HttpChannel", "RetryPolicy"]
