"""Domain errors to HTTP, in one table. 5xx never echoes internals."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from insitu.errors import (
    AlreadyExists,
    BudgetExceeded,
    Conflict,
    ExecutionFailed,
    Forbidden,
    InsituError,
    InternalError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ProtocolAbort,
    SecurityError,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("insitu.api")

STATUS: dict[type[InsituError], int] = {
    PayloadTooLarge: 413,
    InvalidInput: 422,
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    BudgetExceeded: 402,
    ExecutionFailed: 422,
    ProtocolAbort: 422,
    SecurityError: 401,
    Unavailable: 503,
    InternalError: 500,
}


def status_for(exc: InsituError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def install(app: FastAPI) -> None:
    """Register handlers that turn every error into ``{"error": {code, message, details}}``."""

    @app.exception_handler(InsituError)
    async def _insitu(_: Request, exc: InsituError) -> JSONResponse:
        status = status_for(exc)
        body = exc.to_dict() if status < 500 else InternalError().to_dict()
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": body}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        err = InvalidInput("invalid request: " + "; ".join(problems), details=problems)
        return JSONResponse({"error": err.to_dict()}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return JSONResponse({"error": InternalError().to_dict()}, status_code=500)
