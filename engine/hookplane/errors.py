"""Hookplane's one error tree.

Every error the engine raises on purpose derives from :class:`HookplaneError`; library
errors (pydantic, PyYAML, SQLAlchemy, httpx) are converted where they enter and chained
with ``raise ... from exc``. Only ``hookplane.cli.main`` turns these into exit codes, and
only ``hookplane.runtime.problems`` into HTTP statuses (one table, default 500).

::

    HookplaneError
    ├── ConfigError            invalid YAML / model / references / mappings (has diagnostics)
    ├── PlanError              plan refused: environment rules, protect, bad saved plan
    │   └── StaleStateError    saved plan no longer matches the state (serial/lineage)
    ├── PromotionError         promote FROM TO refused
    ├── AuthoringError         a create/delete of YAML from the command line refused
    ├── StateError             state database problems
    │   ├── LockError          the environment lock is held by someone else
    │   ├── SecretError        secret key missing / unreadable / decryption failed
    │   ├── DatabaseUnavailable    the database cannot be reached now (503 + Retry-After)
    │   ├── RecordNotFound     no such live record (404)
    │   ├── RecordConflict     a record with that external id exists (409)
    │   ├── InvalidQuery       a list filter, cursor or limit the store cannot use (400)
    │   └── DuplicateDelivery  the provider delivery id was seen within the window
    ├── ApplyError             apply failed and was rolled back
    ├── MappingError           a mapping could not be applied to a payload at runtime
    ├── TemplateError          a template could not be rendered (size cap, syntax)
    │   └── TemplateSyntaxError    a template that does not parse (with its position)
    ├── WeakTokenError         HOOKPLANE_ADMIN_TOKEN too easy to guess: serve does not start
    ├── ServerUnreachable      the CLI found no server at the admin URL
    ├── TracingError           OTEL_* asks for tracing that cannot start: serve does not start
    ├── RequestRefused         the runtime refuses a request (status: runtime/problems.py)
    │   ├── BadRequest         malformed: not JSON, not an object, a bad parameter (400)
    │   ├── NotAuthenticated   credentials missing or wrong (401, WWW-Authenticate: Bearer)
    │   ├── NotPermitted       authenticated but not allowed here (403)
    │   ├── NotFound           no such environment, collection, resource or record (404)
    │   ├── BodyTimeout        the body did not arrive within its deadline (408)
    │   ├── Conflict           the current state refuses it (409)
    │   ├── BodyTooLarge       the body is larger than its limit (413)
    │   ├── InvalidPayload     the body does not match the schema; ``fields`` (422)
    │   └── Throttled          too many requests or wrong credentials (429, Retry-After)
    └── DeliveryError          an outbound delivery or upstream fetch failed
        ├── TriggerNotFound    no trigger of that name is applied
        └── EgressError        the outbound sender could not send or finish a request
            ├── EgressRefused      destination refused (address, scheme): never retried
            ├── EgressInvalidURL   the URL or a header cannot be sent as HTTP: never retried
            ├── EgressTimeout      no complete answer within the timeout: retried
            └── EgressUnreachable  resolve/connect/read/protocol failure: retried
"""

from __future__ import annotations

from dataclasses import dataclass, field


class HookplaneError(Exception):
    """Base class of every error Hookplane raises on purpose."""


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One positioned problem found in the configuration.

    Ordered by file, line and column so that a list of diagnostics sorts the way a user
    reads the files.
    """

    file: str
    line: int
    column: int
    message: str
    address: str = field(default="", compare=False)
    hint: str = field(default="", compare=False)

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "address": self.address,
            "message": self.message,
            "hint": self.hint,
        }


class ConfigError(HookplaneError):
    """The configuration is invalid; ``diagnostics`` lists every problem, sorted."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class PlanError(HookplaneError):
    """The plan cannot be made or is refused (environment rules, protect, ...)."""


class StaleStateError(PlanError):
    """A saved plan no longer matches the state it was made against."""


class PromotionError(HookplaneError):
    """A promotion cannot be carried out."""


class AuthoringError(HookplaneError):
    """``triggers|inbound-webhooks|api-keys create|delete`` refused; nothing was written."""


class StateError(HookplaneError):
    """The state database cannot be used as asked."""


class LockError(StateError):
    """The environment's state lock is held."""


class SecretError(StateError):
    """A secret cannot be generated, stored, decrypted or resolved."""


class ApplyError(HookplaneError):
    """Apply failed; nothing was written."""


class MappingError(HookplaneError):
    """A field mapping could not be applied to a payload."""


class TemplateError(HookplaneError):
    """A template could not be rendered."""


class DeliveryError(HookplaneError):
    """An outbound delivery or an upstream fetch failed."""


class EgressError(DeliveryError):
    """The outbound sender could not send a request or read its answer.

    The message names the destination by scheme, host and port only (never the path, query
    or a header value: webhook URLs often carry a secret). ``retryable`` says whether another
    attempt can help.
    """

    retryable = True


class EgressRefused(EgressError):
    """The destination may not be reached: its address (loopback, private, metadata …) or
    its scheme. Sending again cannot help."""

    retryable = False

    def __init__(self, message: str, *, host: str = "", address: str = "",
                 reason: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.address = address
        self.reason = reason


class EgressInvalidURL(EgressError):
    """The URL (or a header) cannot be sent as an HTTP request: malformed, a bad port."""

    retryable = False


class EgressTimeout(EgressError):
    """No complete answer within the request's timeout."""


class EgressUnreachable(EgressError):
    """The host could not be resolved or connected to, or the connection broke."""


class DatabaseUnavailable(StateError):
    """The state database cannot be reached (or stayed locked): nothing was done, and the
    same call may succeed later. The runtime answers 503 with ``Retry-After``."""


class RecordNotFound(StateError):
    """No such (live) record: the runtime answers 404."""


class RecordConflict(StateError):
    """A record with that external id already exists: the runtime answers 409."""


class InvalidQuery(StateError):
    """A list filter, cursor or limit the store cannot use: the runtime answers 400."""


class DuplicateDelivery(StateError):
    """The provider delivery id was seen within the window; nothing was written."""


class TemplateSyntaxError(TemplateError):
    """A template that does not parse; ``position`` is the 0-based offset of its ``{{``.

    ``line`` and ``column`` are 1-based and count inside the template text itself;
    ``reason`` is the message without the position (what is wrong and what to write), for
    callers that say where themselves (configuration validation).
    """

    def __init__(self, message: str, *, position: int, line: int, column: int,
                 reason: str = "") -> None:
        super().__init__(message)
        self.position = position
        self.line = line
        self.column = column
        self.reason = reason or message

    @property
    def where(self) -> str:
        """``column 5``, or ``line 2, column 3`` in a text of several lines."""
        return f"line {self.line}, column {self.column}" if self.line > 1 else (
            f"column {self.column}")


class TriggerNotFound(DeliveryError):
    """No trigger of that name is applied in the environment."""


class WeakTokenError(HookplaneError):
    """``HOOKPLANE_ADMIN_TOKEN`` is too easy to guess; the runtime does not start."""


class ServerUnreachable(HookplaneError):
    """No server answered at the URL (refused, timed out, not resolvable)."""


class TracingError(HookplaneError):
    """Tracing is configured (``OTEL_*``) but cannot start: the ``otel`` extra is missing,
    or an exporter or protocol Hookplane does not ship is named."""


class RequestRefused(HookplaneError):
    """The runtime refuses a request. The message is the answer's ``error``; ``headers``
    go out with it (``Retry-After``, ``WWW-Authenticate``). The status comes from the one
    table in ``hookplane.runtime.problems``."""

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.headers = dict(headers or {})


class BadRequest(RequestRefused):
    """The request is malformed: a body that is not JSON or not an object, a bad value."""


class NotAuthenticated(RequestRefused):
    """Credentials (API key, admin token) missing or wrong."""

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class NotPermitted(RequestRefused):
    """Authenticated, but the credential does not allow this (an API key's scope)."""


class NotFound(RequestRefused):
    """No such environment, collection, resource or record (or the feature is off)."""


class BodyTimeout(RequestRefused):
    """The request body did not arrive within its deadline."""


class Conflict(RequestRefused):
    """The current state refuses the request (only a failed delivery can be redelivered)."""


class BodyTooLarge(RequestRefused):
    """The request body is larger than its limit (reading stopped there)."""

    def __init__(self, message: str = "body too large", *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers=headers)


class InvalidPayload(RequestRefused):
    """The body does not match the collection schema; ``fields`` lists the problems
    (``{"path": …, "message": …}``)."""

    def __init__(self, message: str, *, fields: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


class Throttled(RequestRefused):
    """Too many requests, or too many wrong credentials from one address; ``retry_after``
    seconds (also sent as ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after
