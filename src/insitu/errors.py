"""The one error root of insitu and its subclasses, each with a stable ``code``.

The node maps codes to HTTP status in one table (``insitu.node.api.errors``);
the client turns a code back into the same class, so callers catch the same
exceptions whether they run in-process or over HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class InsituError(Exception):
    """Root of every error insitu raises on purpose.

    Parameters
    ----------
    message:
        Human-readable explanation, safe to show to the caller.
    details:
        Optional JSON-serialisable data that helps the caller fix the problem
        (for example the rows that broke a card). It may show private values
        only to a caller who owns them (an owner registering a file sees its
        offending cells); errors that reach analysts never carry any.
    """

    code: ClassVar[str] = "insitu_error"

    def __init__(self, message: str = "", *, details: Any = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip().splitlines()[0]
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """Serialise as ``{"code", "message", "details"}`` for the wire."""
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(InsituError, ValueError):
    """The input is malformed or breaks a declared rule."""

    code = "invalid_input"


class CardViolation(InvalidInput):
    """Rows of a table break the dataset's card."""

    code = "card_violation"


class QueryError(InvalidInput):
    """A query uses a construct or column that is not allowed."""

    code = "query_error"


class PayloadTooLarge(InvalidInput):
    """An upload or message exceeds the configured size limit."""

    code = "payload_too_large"


class NotFound(InsituError, LookupError):
    """The named object does not exist, or the caller may not see it."""

    code = "not_found"


class AlreadyExists(InsituError):
    """An object with that name already exists."""

    code = "already_exists"


class Conflict(InsituError):
    """The object is not in a state that allows this action."""

    code = "conflict"


class Unauthenticated(InsituError):
    """Missing, unknown, expired or revoked credentials."""

    code = "unauthenticated"


class Forbidden(InsituError, PermissionError):
    """The caller's role does not allow this action."""

    code = "forbidden"


class BudgetExceeded(InsituError):
    """Running this would spend more privacy budget than remains."""

    code = "budget_exceeded"


class ExecutionFailed(InsituError):
    """A computation failed while running; nothing was released."""

    code = "execution_failed"


class ProtocolAbort(InsituError):
    """A protocol party received something it must not accept and stopped.

    The message says which check failed, never secret values.
    """

    code = "protocol_abort"


class SecurityError(InsituError):
    """A signature, MAC or replay check failed. Deliberately says nothing more."""

    code = "security_error"


class Unavailable(InsituError):
    """A peer or service could not be reached in time."""

    code = "unavailable"


class InternalError(InsituError):
    """Something went wrong inside the node; details are in its log."""

    code = "internal_error"


def all_error_classes() -> dict[str, type[InsituError]]:
    """Every error class by its ``code``, for decoding errors off the wire."""
    found: dict[str, type[InsituError]] = {}
    queue: list[type[InsituError]] = [InsituError]
    while queue:  # breadth first: a subclass that reuses a code never shadows its base
        cls = queue.pop(0)
        found.setdefault(cls.code, cls)
        queue.extend(cls.__subclasses__())
    return found
