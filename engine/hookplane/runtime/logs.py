"""Runtime logs: one access line per request with a request id, text or JSON, never a secret.

- :func:`request_ids` is an ASGI middleware. It takes the caller's ``X-Request-ID`` when it
  is a short plain token (else makes ``req_<hex>``), answers with it in ``X-Request-ID``,
  makes it visible to every log record written while the request is handled (through a
  context variable, which anyio carries into worker threads), and logs one access line on
  ``hookplane.access``: method, path (never the query string), route template, status,
  duration and client address. Headers and bodies are never logged.
- :func:`configure` installs the formatter (``text`` or ``json``) on the root logger and
  routes uvicorn's own loggers through it (uvicorn's access log is replaced by the access
  line above). ``httpx``'s own request lines, which hold full upstream URLs, are dropped.
- Every message and traceback goes through :func:`redact` first, which masks what looks like
  a secret: ``whsec_…`` signing secrets, ``hpt_…`` tokens, ``Bearer``/``Token`` credentials,
  signature values, passwords in URLs, the paths and queries of absolute ``http(s)`` URLs
  (a webhook URL's path is often its credential) and ``secret=…``-style pairs.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import os
import re
import secrets
import socket
import sys
import time
from datetime import UTC, datetime
from typing import Any, Literal

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["text", "json"]

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "hookplane.access"

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hookplane_request_id", default=None)
"""The id of the request being handled, or ``None`` outside a request."""

_GIVEN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]+"), "whsec_[redacted]"),
    (re.compile(r"hpt_[A-Za-z0-9_-]+"), "hpt_[redacted]"),
    (re.compile(r"(?i)\b(bearer|token|basic)(\s+|\s*token=)[A-Za-z0-9._~+/=-]{6,}"),
     r"\1\2[redacted]"),
    (re.compile(r"(?i)\b(sha256=|v0=|v1=|v1,)[A-Za-z0-9+/=]{16,}"), r"\1[redacted]"),
    (re.compile(r"://([^:/@\s]+):([^@\s]+)@"), r"://\1:[redacted]@"),
    # paths and queries of absolute URLs: webhook URLs (Slack, Teams, Discord) are
    # credentials in their path; scheme, host and port stay readable
    (re.compile(r"(?i)\b(https?://[^/?#\s'\"<>]+)[/?#][^\s'\"<>]*"), r"\1/[redacted]"),
    (re.compile(r"(?i)\b((?:secret|password|passwd|token|api[_-]?key|authorization)"
                r"[\"']?\s*[:=]\s*[\"']?)(?!\[redacted\])[^\s\"',;}]+"), r"\1[redacted]"),
)

_URL_LOGGERS = ("httpx", "httpcore")

CONTROLLER_PATH = "hookplane_controller_path"
"""A handler's ``opt`` key: its controller's path, which the access log's ``route`` prefixes
to the handler's own (``/{environment:str}/triggers``, ``/healthz``: the route as written)."""
_ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")


def redact(text: str) -> str:
    """``text`` with everything that looks like a secret masked."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


_REQUEST_PREFIX = secrets.token_hex(4)
_request_numbers = itertools.count(1)


def new_request_id() -> str:
    """Unique per process (a random prefix and a counter): no system call per request."""
    return f"req_{_REQUEST_PREFIX}{next(_request_numbers):08x}"


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (``None`` outside a request) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


def _when(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def replica() -> str:
    """This process's identity, ``host:pid``: which replica and process wrote a log line
    (JSON logs carry it as ``replica``; delivery attempts record the worker, which starts
    with it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, replica (``host:pid``),
    request_id, access fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _when(record), "level": record.levelname.lower(),
                                 "logger": record.name, "message": redact(record.getMessage()),
                                 "replica": replica()}
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            entry["request_id"] = request_id
        for key in _ACCESS_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message [request_id]``, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        if request_id:
            text += f" [{request_id}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return redact(text)


def configure(*, level: str = "info", log_format: LogFormat = "text",
              stream: Any = None) -> logging.Handler:
    """Send every log record (ours and uvicorn's) to ``stream`` (stderr) in ``log_format``.

    Call it after building the ``uvicorn.Config``: uvicorn installs its own logging setup
    when its config is created, and this replaces it.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False  # replaced by the access line of request_ids()
    for name in _URL_LOGGERS:
        # httpx logs every outgoing request's full URL at INFO; a trigger URL such as a
        # Slack webhook URL is itself a secret (${env:...}), so only their warnings pass
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _access_line(access: logging.Logger, scope: Scope, status: int, started: float,
                 request_id: str) -> None:
    handler = scope.get("route_handler")
    paths = sorted(getattr(handler, "paths", ()) or ())
    prefix = (getattr(handler, "opt", None) or {}).get(CONTROLLER_PATH)
    if paths and prefix:  # a controller's handler: the route as written, path and all
        paths[0] = (prefix.rstrip("/") + paths[0]).rstrip("/") or "/"
    client = scope.get("client")
    duration = round((time.perf_counter() - started) * 1000, 1)
    path = str(scope.get("path", ""))
    access.info('%s %s %s %.1fms', scope.get("method", ""), path, status, duration,
                extra={"method": scope.get("method"), "path": path,
                       "route": paths[0] if paths else None, "status": status,
                       "duration_ms": duration, "client": client[0] if client else None,
                       "request_id": request_id})


def request_ids(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a request id per HTTP request, in the response and in every log line.

    Usable around the whole application (``hookplane serve`` wraps the app with it) or as a
    Litestar middleware (``Litestar(middleware=[request_ids, ...])``).
    """
    access = logging.getLogger(ACCESS_LOGGER)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.lower().encode())
        request_id = given if given and _GIVEN_ID.match(given) else new_request_id()
        token = current_request_id.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers") or ()
                           if bytes(k).lower() != REQUEST_ID_HEADER.lower().encode()]
                headers.append((REQUEST_ID_HEADER.lower().encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            if access.isEnabledFor(logging.INFO):  # off with --log-level warning
                _access_line(access, scope, status, started, request_id)
            current_request_id.reset(token)

    return middleware
