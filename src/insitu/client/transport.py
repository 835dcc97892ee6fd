"""One reused HTTP connection to a node: bearer auth, TLS, and errors decoded to insitu classes."""

from __future__ import annotations

import json
import ssl
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

import insitu
from insitu.errors import InsituError, InternalError, InvalidInput, Unavailable

#: Seconds a call may take by default (connect, read, write each).
DEFAULT_TIMEOUT = 30.0
#: Times a refused or failed connection attempt is retried before ``Unavailable``.
CONNECT_RETRIES = 2


def tls_context(verify: bool | str | Path) -> ssl.SSLContext | bool:
    """What httpx needs for ``verify``: ``True`` (system CAs), ``False``, or a CA bundle path."""
    if isinstance(verify, bool):
        return verify
    path = Path(verify)
    if not path.is_file():
        raise InvalidInput(f"CA bundle {path} does not exist")
    return ssl.create_default_context(cafile=str(path))


def error_class(code: str) -> type[InsituError]:
    """The most general error class with ``code`` (``InsituError`` if none has it).

    ``insitu.errors.all_error_classes`` returns, for a code that a subclass
    reuses (e.g. a specialised ``SecurityError``), whichever class it met last;
    the client wants the class the code was defined by, so it walks the tree
    breadth first and keeps the first class per code.
    """
    found: dict[str, type[InsituError]] = {}
    queue: deque[type[InsituError]] = deque([InsituError])
    while queue:
        cls = queue.popleft()
        found.setdefault(cls.code, cls)
        queue.extend(cls.__subclasses__())
    return found.get(code, InsituError)


def decode_error(response: httpx.Response) -> InsituError:
    """Turn an error response into the ``InsituError`` subclass the node raised."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("code"), str):
        cls = error_class(err["code"])
        message = err.get("message") if isinstance(err.get("message"), str) else ""
        try:
            return cls(message or err["code"], details=err.get("details"))
        except TypeError:  # a subclass with its own constructor: fall back to the root
            return InsituError(message or err["code"], details=err.get("details"))
    where = f"{response.request.method} {response.request.url.path}"
    if response.status_code in (502, 503, 504):
        return Unavailable(f"{where}: the node answered HTTP {response.status_code}")
    return InternalError(f"{where}: unexpected HTTP {response.status_code} without an insitu error")


class Transport:
    """A bearer-authenticated ``httpx.Client`` bound to one node URL.

    The client (and its connection pool) is made once and reused for every
    call. The token lives only in the ``Authorization`` header; it is never
    part of ``repr`` or of an error message.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None,
        verify: bool | str | Path = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidInput(f"node URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        headers = {"User-Agent": f"insitu-client/{insitu.__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # Plain-HTTP nodes (loopback, tests) skip loading the CA store, which is slow.
        tls = tls_context(verify) if self.url.startswith("https://") else False
        # Retries cover failed connection attempts only (nothing was sent), so they are
        # safe for every method; the pool keeps connections alive between calls.
        pool = httpx.HTTPTransport(verify=tls, retries=CONNECT_RETRIES)
        self._http = httpx.Client(
            base_url=self.url, headers=headers, transport=pool, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"Transport({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        content: Iterable[bytes] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Make one call; raise the node's error, or ``Unavailable`` if it cannot be reached."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                path,
                json=json_body,
                params=query,
                content=content,
                headers=headers,
                timeout=self.timeout if timeout is None else timeout,
            )
        except httpx.TimeoutException:
            raise Unavailable(
                f"the node at {self.url} did not answer {method} {path} in time"
            ) from None
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach the node at {self.url} ({_reason(exc)})") from None
        if response.status_code >= 400:
            raise decode_error(response)
        return response

    def get_json(self, path: str, **params: Any) -> Any:
        return self.send("GET", path, params=params).json()

    def post_json(self, path: str, body: Any = None, **params: Any) -> Any:
        response = self.send("POST", path, json_body=body, params=params)
        return response.json() if response.content else None


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return (
            f"TLS failed: {text}; trust the CA that signed the node's certificate "
            "(verify= or --ca-bundle)"
        )
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {text}"
    return f"{type(exc).__name__}: {text}"


def parse_json(data: bytes) -> Any:
    """Decode a JSON body, with a clear error when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        raise InternalError("the node sent a body that is not JSON") from None
