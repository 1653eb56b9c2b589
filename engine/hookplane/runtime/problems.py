"""The ONE table from domain errors to HTTP statuses, shared by the API, the admin API and
the console (which renders the same status as a page).

Services raise :class:`~hookplane.errors.HookplaneError` subclasses; nothing else in the
runtime chooses an error status. An error is answered with the status of the nearest class
in its MRO that the table names; a HookplaneError the table does not name is a bug: 500.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from hookplane.errors import (
    BadRequest,
    BodyTimeout,
    BodyTooLarge,
    Conflict,
    DatabaseUnavailable,
    DeliveryError,
    DuplicateDelivery,
    InvalidPayload,
    InvalidQuery,
    LockError,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    RecordConflict,
    RecordNotFound,
    RequestRefused,
    SecretError,
    Throttled,
)

log = logging.getLogger("hookplane.runtime")

STATUSES: dict[type[Exception], int] = {
    BadRequest: 400,
    InvalidQuery: 400,
    NotAuthenticated: 401,
    NotPermitted: 403,
    NotFound: 404,
    RecordNotFound: 404,
    BodyTimeout: 408,
    Conflict: 409,
    RecordConflict: 409,
    DuplicateDelivery: 409,
    LockError: 409,
    SecretError: 409,
    DeliveryError: 409,  # a test send the trigger cannot make (unknown, writes to a source)
    BodyTooLarge: 413,
    InvalidPayload: 422,
    Throttled: 429,
    DatabaseUnavailable: 503,
}
"""Domain error → status; the nearest class in an error's MRO wins, anything else is 500."""

RETRY_AFTER_UNAVAILABLE = "5"


def status_of(exc: BaseException) -> int:
    """The status answering ``exc``: Litestar's own exceptions keep theirs; a domain error
    the nearest entry of :data:`STATUSES`; anything else 500."""
    if isinstance(exc, HTTPException):
        return exc.status_code
    for kind in type(exc).__mro__:
        status = STATUSES.get(kind)
        if status is not None:
            return status
    return 500


def is_framework_refusal(exc: BaseException) -> bool:
    """Litestar's own refusal (a request it rejected before or around a handler: a malformed
    form or parameter, a body over the route's limit), not a domain error. The runtime's own
    code raises domain errors only; this module is the one that knows Litestar's."""
    return isinstance(exc, HTTPException)


def headers_of(exc: BaseException, status: int) -> dict[str, str]:
    """The headers the answer carries (``Retry-After``, ``WWW-Authenticate``)."""
    headers: dict[str, str] = {}
    if isinstance(exc, HTTPException):
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        headers.update(exc.headers or {})
    elif isinstance(exc, RequestRefused):
        headers.update(exc.headers)
    if status == 503 and isinstance(exc, DatabaseUnavailable):
        headers["Retry-After"] = RETRY_AFTER_UNAVAILABLE
    return headers


def message_of(exc: BaseException, status: int) -> str:
    """What the answer says: the error's message, never an unexpected error's (it may carry
    internals)."""
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    if isinstance(exc, DatabaseUnavailable):
        return "state database unavailable; try again"
    if status == 500:
        return "internal error"
    return str(exc)


def log_unexpected(request: Request[Any, Any, Any], exc: BaseException, status: int) -> None:
    if isinstance(exc, DatabaseUnavailable):
        log.warning("state database unavailable: %s", type(exc).__name__)
    elif status == 500:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)


def json_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The API's and the admin API's answer to any exception: ``{"error": "…"}`` (a schema
    mismatch adds ``fields``) with the table's status."""
    status = status_of(exc)
    log_unexpected(request, exc, status)
    body: dict[str, Any] = {"error": message_of(exc, status)}
    if isinstance(exc, InvalidPayload):
        body["fields"] = exc.fields
    return Response(content=body, status_code=status, headers=headers_of(exc, status),
                    media_type="application/json")
