"""The one place where errors become HTTP answers.

The library raises typed errors (:mod:`oncoclass.errors`) and knows nothing of HTTP; these
handlers map them to status codes. Field errors use FastAPI's own validation shape,
``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``, so that a client reads a missing
gene and a text over the limit the same way. Other errors are ``{"detail": "message"}``.
"""

from __future__ import annotations

import json
import logging
import math
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from oncoclass.auth import HEADER, AuthenticationError, PermissionDeniedError, RateLimitedError
from oncoclass.errors import (
    DataError,
    InvalidInputError,
    ModelNotFoundError,
    ModelUnavailableError,
    NotFoundError,
    OncoClassError,
    PayloadTooLargeError,
    UnknownTaskError,
    UnsupportedMediaTypeError,
)

log = logging.getLogger(__name__)


class SafeJSONResponse(JSONResponse):
    """Pure-ASCII JSON, so that any text an error message quotes can be encoded (a lone
    surrogate is a valid JSON escape but not valid UTF-8)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, default=str).encode("ascii")


def field_errors(status: int, errors: list[dict[str, Any]]) -> SafeJSONResponse:
    return SafeJSONResponse({"detail": errors}, status_code=status)


def _location(request: Request) -> str:
    return "query" if request.method in ("GET", "HEAD", "DELETE") else "body"


def _field_error(request: Request, field: str | None, message: str, kind: str) -> dict[str, Any]:
    loc = [_location(request), field] if field else [_location(request)]
    return {"loc": loc, "msg": message, "type": kind}


async def _validation(request: Request, exc: RequestValidationError) -> SafeJSONResponse:
    # The offending input is not echoed: it may be a 300 kB text, or not encodable.
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return field_errors(422, errors)


async def _too_large(request: Request, exc: PayloadTooLargeError) -> SafeJSONResponse:
    return field_errors(413, [_field_error(request, exc.field, str(exc), "too_large")])


async def _invalid_input(request: Request, exc: InvalidInputError) -> SafeJSONResponse:
    return field_errors(422, [_field_error(request, exc.field, str(exc), "invalid_input")])


async def _unknown_task(request: Request, exc: UnknownTaskError) -> SafeJSONResponse:
    return field_errors(422, [_field_error(request, "task", str(exc), "unknown_task")])


async def _data_error(request: Request, exc: DataError) -> SafeJSONResponse:
    return field_errors(422, [_field_error(request, "file", str(exc), "invalid_data")])


def _status(code: int) -> Any:
    async def handler(request: Request, exc: Exception) -> SafeJSONResponse:
        return SafeJSONResponse({"detail": str(exc)}, status_code=code)

    return handler


async def _database(request: Request, exc: SQLAlchemyError) -> SafeJSONResponse:
    # Never the exception's text: it may quote the statement's parameters (a request's text).
    log.error("database error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return SafeJSONResponse(
        {"detail": "the prediction history database is unavailable; try again later"},
        status_code=503,
    )


async def _unauthenticated(request: Request, exc: AuthenticationError) -> SafeJSONResponse:
    return SafeJSONResponse(
        {"detail": str(exc)},
        status_code=401,
        headers={"WWW-Authenticate": f'ApiKey header="{HEADER}"'},
    )


async def _rate_limited(request: Request, exc: RateLimitedError) -> SafeJSONResponse:
    return SafeJSONResponse(
        {"detail": str(exc)},
        status_code=429,
        headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
    )


async def _http(request: Request, exc: StarletteHTTPException) -> SafeJSONResponse:
    """Starlette's and FastAPI's own errors, in the same shape. A body FastAPI cannot parse
    (not UTF-8, not JSON, an empty multipart) is a malformed body like any other: 422, as
    documented, rather than FastAPI's bare 400."""
    if exc.status_code == 400:
        return field_errors(
            422,
            [_field_error(request, None, f"the body cannot be read: {exc.detail}", "body_invalid")],
        )
    return SafeJSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _unexpected(request: Request, exc: Exception) -> SafeJSONResponse:
    """A bug: logged with its traceback but without the exception's message or locals, which
    may hold the request's text; the client gets a plain 500."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error(
        "unexpected %s on %s %s\n%s", type(exc).__name__, request.method, request.url.path, frames
    )
    return SafeJSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler; the most specific class wins, whatever the order."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(PayloadTooLargeError, _too_large)
    app.add_exception_handler(InvalidInputError, _invalid_input)
    app.add_exception_handler(UnknownTaskError, _unknown_task)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(NotFoundError, _status(404))
    app.add_exception_handler(UnsupportedMediaTypeError, _status(415))
    app.add_exception_handler(ModelUnavailableError, _status(503))
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(PermissionDeniedError, _status(403))
    app.add_exception_handler(RateLimitedError, _rate_limited)
    app.add_exception_handler(ModelNotFoundError, _status(503))
    app.add_exception_handler(OncoClassError, _status(400))
    app.add_exception_handler(SQLAlchemyError, _database)
    app.add_exception_handler(Exception, _unexpected)
