"""The declarative model: one pydantic model per YAML resource kind.

Every model forbids unknown keys; the loader turns pydantic's errors into positioned
diagnostics with a "did you mean" suggestion. Cross-resource rules (references, mapping
contracts, secrets) live in :mod:`hookplane.config.validate`, not here: a model only
checks what it can see by itself.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from hookplane import presets as _presets
from hookplane.config import applied as _applied

ENV_REF = _applied.ENV_REF
"""A reference to an environment variable, resolved at apply: ``${env:NAME}`` (defined in
:mod:`hookplane.config.applied`, beside its resolver)."""

RECORD_EVENTS = ("create", "update", "delete")
SYSTEM_EVENTS = ("config.applied", "config.promoted", "delivery.failed", "trigger.disabled")
NAMED_EVENT = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
"""A collection's named event: dotted lower-case words, e.g. ``escalation.resolved``."""
NAMED_EVENT_MAX = 40
PROVIDER_PRESETS = _presets.PROVIDERS
AUTH_TYPES = _presets.AUTH_TYPES
"""Every ``auth.type``: the preset registry's (:mod:`hookplane.presets`)."""
TIMESTAMPED = _presets.TIMESTAMPED
"""Auth types whose signature covers a timestamp of their own (``tolerance_seconds``)."""
_TIMESTAMP_FIRST = (*(name for name in ("stripe", "slack", "zoom", "twitch")),
                    *(name for name in TIMESTAMPED
                      if name not in ("stripe", "slack", "zoom", "twitch")))
"""For messages: the long-standing four first, then the rest in the registry's order."""
if TYPE_CHECKING:
    AuthType = str
else:
    AuthType = Literal[AUTH_TYPES]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_FACTOR = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _seconds(value: Any) -> Any:
    """Accept ``10``, ``2.5``, ``"500ms"``, ``"10s"``, ``"2m"``; return seconds as float."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10, '500ms', '10s' or '2m'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"'{value}' is not a duration; use e.g. 10, '500ms', '10s' or '2m'")
        return float(match.group(1)) * _DURATION_FACTOR[match.group(2)]
    return value


Seconds = Annotated[float, Field(gt=0, le=3600)]


# --------------------------------------------------------------------------- environment


class EnvironmentSpec(_Model):
    """``environment.yaml``: who this environment is and where it promotes to."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=63)
    kind: Literal["preview", "production"]
    promotes_to: str | None = None
    org: str | None = None
    project: str | None = None
    description: str | None = None


# --------------------------------------------------------------------------- collections

JsonType = Literal["object", "string", "number", "integer", "boolean", "array", "null"]


class FieldSchema(_Model):
    """The JSON Schema subset a collection's records are validated against."""

    type: JsonType | list[JsonType] | None = None
    description: str | None = None
    properties: dict[str, FieldSchema] | None = None
    required: list[str] | None = None
    additionalProperties: bool | FieldSchema | None = None
    items: FieldSchema | None = None
    enum: list[Any] | None = None
    format: Literal["date-time", "date", "email", "uri"] | None = None
    minimum: float | None = None
    maximum: float | None = None
    minLength: int | None = Field(default=None, ge=0)
    maxLength: int | None = Field(default=None, ge=0)
    default: Any = None

    @model_validator(mode="after")
    def _required_are_properties(self) -> FieldSchema:
        if self.required:
            known = set(self.properties or {})
            missing = [name for name in self.required if name not in known]
            if missing:
                raise ValueError(
                    f"required field(s) {', '.join(repr(m) for m in missing)} are not "
                    "declared under 'properties'"
                )
        if self.enum is not None and not self.enum:
            raise ValueError("'enum' must list at least one value")
        return self


RecordEventName = Literal["create", "update", "delete"]


def _field_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _create_and_update() -> list[RecordEventName]:
    return ["create", "update"]


class NamedEvent(_Model):
    """An event with a name of its own, declared on a collection, that triggers subscribe to.

    It fires for a record write of a kind listed in ``writes`` (``on`` would be a boolean
    key in YAML 1.1) when

    - ``changes`` (field paths) is given: one of those fields changed (on ``create``: is
      present), and the record matches ``when`` (a filter, default: every record);
    - else: ``when`` *becomes* true — it holds for the record after the write and did not
      hold before (a ``create`` has no before; a ``delete`` tests the record as deleted).
    """

    writes: list[RecordEventName] = Field(default_factory=_create_and_update, min_length=1)
    when: dict[str, Any] = Field(default_factory=dict)
    changes: list[str] = Field(default_factory=list)
    description: str | None = None

    _changes = field_validator("changes", mode="before")(_field_list)

    @field_validator("writes")
    @classmethod
    def _unique_writes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a write kind is listed twice in 'writes'")
        return value


def _named_event_name(name: str) -> str | None:
    """Why ``name`` cannot name a collection's event (None when it can)."""
    if name in RECORD_EVENTS or name in SYSTEM_EVENTS:
        return f"'{name}' is a built-in event; pick another name"
    if len(name) > NAMED_EVENT_MAX:
        return f"event name '{name}' is longer than {NAMED_EVENT_MAX} characters"
    if not NAMED_EVENT.match(name):
        return (f"event name '{name}' must be dotted lower-case words, e.g. "
                "'escalation.resolved'")
    return None


class Collection(_Model):
    """A collection of records with a schema."""

    schema_: FieldSchema = Field(alias="schema")
    events: dict[str, NamedEvent] | None = None
    """Named events; None (not ``{}``) when none are declared, so that collections applied
    before named events existed plan as unchanged."""
    description: str | None = None
    protect: bool = False
    renamed_from: str | None = None

    @field_validator("events")
    @classmethod
    def _event_names(cls, value: dict[str, NamedEvent] | None
                     ) -> dict[str, NamedEvent] | None:
        for name in value or {}:
            problem = _named_event_name(name)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("schema_")
    @classmethod
    def _object_root(cls, value: FieldSchema) -> FieldSchema:
        if value.type not in (None, "object"):
            raise ValueError("a collection schema must be an object (type: object)")
        return value


# --------------------------------------------------------------------------- mappings

DateFormat = str  # epoch_s | epoch_ms | iso8601 | a strftime pattern


class DateRule(_Model):
    """How a native ISO-8601 field is written on the external side."""

    external: DateFormat


class Mapping(_Model):
    """The field-mapping contract between a native collection and an external shape.

    Keys on the left are native field paths (dot notation) unless stated otherwise.
    """

    to_external: dict[str, str] = Field(default_factory=dict)
    """native path -> external path; inverted automatically on the way in."""
    to_native: dict[str, str] = Field(default_factory=dict)
    """native path -> external path, used only on the way in (explicit inbound renames)."""
    computed: dict[str, str] = Field(default_factory=dict)
    """native path -> template over ``{{payload.*}}`` and already-mapped ``{{record.*}}``."""
    value_maps: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """native path -> {native value: external value}; inverted on the way in."""
    dates: dict[str, DateRule] = Field(default_factory=dict)
    """native path -> external date format (epoch_s, epoch_ms, iso8601 or strftime)."""
    compose: dict[str, str] = Field(default_factory=dict)
    """native path -> ``"{first} {last}"`` built from external fields (inbound only)."""
    unmapped: Literal["keep", "drop"] = "keep"
    """Fields the mapping does not name: ``keep`` (the default) carries them over under
    their own names, in both directions; ``drop`` leaves them out, so the result holds only
    the fields the mapping names."""


# --------------------------------------------------------------------------- sources


class Endpoint(_Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if "://" in value:
            raise ValueError("path is relative to the source's base_url; do not put a URL here")
        if not value.startswith("/"):
            raise ValueError("path must start with '/'")
        return value


class Source(_Model):
    """An external HTTP system bound to a collection."""

    collection: str
    base_url: str
    headers: dict[str, str] = Field(default_factory=dict)
    read: Endpoint | None = None
    write: Endpoint | None = None
    id_field: str = "id"
    mapping: Mapping = Field(default_factory=Mapping)
    timeout: Seconds = 10.0
    description: str | None = None
    protect: bool = False
    renamed_from: str | None = None

    _seconds = field_validator("timeout", mode="before")(_seconds)

    @model_validator(mode="after")
    def _id_in_paths(self) -> Source:
        for name, endpoint in (("read", self.read), ("write", self.write)):
            if endpoint is not None and "{id}" not in endpoint.path:
                raise ValueError(f"{name}.path must contain '{{id}}' (the external record id)")
        return self


# --------------------------------------------------------------------------- triggers


class Signing(_Model):
    """How outbound deliveries are signed. The secret is generated at apply by default."""

    secret: str | None = None
    header: str = "X-Hookplane-Signature"


class DeliveryRateLimit(_Model):
    """At most ``deliveries`` sent per ``per_seconds`` window (windows aligned to the clock),
    counted in the state database: one budget for every process and replica."""

    deliveries: int = Field(gt=0, le=100_000)
    """Deliveries sent per window, at most."""
    per_seconds: Annotated[int, Field(ge=1, le=86_400)] = 1
    """The window, in seconds (aligned to the clock: a 60 s window starts each minute)."""


class CircuitBreaker(_Model):
    """Stop sending to an endpoint that keeps failing, then give up on it: after
    ``failures`` failed attempts in a row the trigger's deliveries wait ``cooldown``, then one
    probe goes; a trigger failing for ``disable_after`` is disabled (``trigger.disabled`` is
    emitted) until re-enabled. Deliveries wait meanwhile; none is dropped."""

    failures: int = Field(default=5, ge=1, le=1000)
    """Failed attempts in a row that open the breaker."""
    cooldown: Seconds = 60.0
    """How long the deliveries wait once it is open, before one probe is sent."""
    disable_after: Annotated[float, Field(gt=0, le=30 * 86_400)] = 86_400.0
    """Seconds of failing (from the first failure of the streak) after which the trigger
    is disabled until `hookplane triggers enable` (default: a day)."""

    _seconds = field_validator("cooldown", "disable_after", mode="before")(_seconds)


class RetryPolicy(_Model):
    attempts: int = Field(ge=1, le=50)
    backoff: Literal["exponential", "fixed"] = "exponential"
    initial_seconds: Seconds = 1.0
    max_seconds: Annotated[float, Field(gt=0, le=86400)] = 300.0
    jitter: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> RetryPolicy:
        if self.max_seconds < self.initial_seconds:
            raise ValueError("max_seconds must be at least initial_seconds")
        return self


class ExternalWrite(_Model):
    source: str


def _trigger_event(value: str) -> str:
    if value in RECORD_EVENTS or value in SYSTEM_EVENTS or (
            len(value) <= NAMED_EVENT_MAX and NAMED_EVENT.match(value)):
        return value
    import difflib

    close = difflib.get_close_matches(value, RECORD_EVENTS + SYSTEM_EVENTS, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ValueError(f"unknown event '{value}'{hint}: use "
                     f"{', '.join(RECORD_EVENTS + SYSTEM_EVENTS)} or an event declared under "
                     "the collection's 'events'")


TriggerEvent = Annotated[str, AfterValidator(_trigger_event), WithJsonSchema({
    "anyOf": [{"enum": [*RECORD_EVENTS, *SYSTEM_EVENTS]},
              {"type": "string", "pattern": NAMED_EVENT.pattern, "maxLength": NAMED_EVENT_MAX,
               "description": "a named event declared under the collection's events"}]})]
"""A record event, a system event, or a named event of the trigger's collection."""


class Trigger(_Model):
    """An outbound webhook fired when records (or the configuration) change."""

    collection: str | None = None
    events: list[TriggerEvent] = Field(min_length=1)
    url: str | None = None
    filter: dict[str, Any] = Field(default_factory=dict)
    body: dict[str, Any] | list[Any] | str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    signing: Signing = Field(default_factory=Signing)
    timeout: Seconds = 10.0
    retry: Literal["none"] | RetryPolicy = "none"
    ordered: bool | None = None
    """``true``: one record's deliveries are sent in order (each waits until the one before
    is delivered or dead-lettered); different records still go in parallel."""
    circuit_breaker: CircuitBreaker | None = None
    """Opt in to stop (then disable) deliveries to an endpoint that keeps failing."""
    rate_limit: DeliveryRateLimit | None = None
    """Throttle the trigger's deliveries (a receiver that cannot take a backlog at once);
    deliveries over the budget wait for the next window, none is dropped."""
    active: bool = True
    skip_hook_writes: bool = True
    skip_inbound_webhook_writes: bool = True
    external_write: ExternalWrite | None = None
    description: str | None = None
    protect: bool = False
    renamed_from: str | None = None

    _seconds = field_validator("timeout", mode="before")(_seconds)

    @field_validator("events")
    @classmethod
    def _unique_events(cls, value: list[str]) -> list[str]:
        seen = [e for i, e in enumerate(value) if e in value[:i]]
        if seen:
            raise ValueError(f"event '{seen[0]}' is listed twice")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Trigger:
        record_events = [e for e in self.events if e not in SYSTEM_EVENTS]
        if record_events and self.collection is None:
            raise ValueError(
                f"record events ({', '.join(record_events)}) need a 'collection' to watch"
            )
        if self.external_write is not None and self.url is not None:
            raise ValueError(
                "'url' and 'external_write' are mutually exclusive: an external write is sent "
                "to the source's write endpoint"
            )
        if self.external_write is None and self.url is None:
            raise ValueError("a trigger needs a 'url' (or 'external_write: {source: NAME}')")
        if self.external_write is not None and self.body is not None:
            raise ValueError(
                "'body' cannot be combined with 'external_write': the body is the record "
                "mapped through the source's mapping"
            )
        if self.filter and self.collection is None:
            raise ValueError("'filter' applies to records and needs a 'collection'")
        return self


# --------------------------------------------------------------------------- inbound webhooks


class BodySignature(_Model):
    """``bearer`` only: an HMAC-SHA256 of the raw body required as well as the token (the
    PromptRails scheme: ``Authorization: Bearer …`` plus ``X-Webhook-Signature: sha256=…``).
    The key is the webhook's ``hmac_secret``, generated at apply, or ``auth.secret``."""

    header: str = "X-Webhook-Signature"
    """The header carrying the signature."""
    encoding: Literal["hex", "sha256=", "base64"] = "sha256="
    """``sha256=`` requires the prefix; ``hex`` and ``base64`` accept it optionally."""


class Auth(_Model):
    """How an inbound delivery proves who sent it."""

    type: AuthType = "hmac"
    header: str | None = None
    encoding: Literal["hex", "sha256=", "base64"] | None = None
    secret: str | None = None
    tolerance_seconds: Annotated[int, Field(ge=1, le=86400)] | None = None
    signature: BodySignature | None = None
    """``bearer`` only, opt-in: also require a body signature; both are checked."""
    timestamp_header: str | None = None
    """``hmac`` only, opt-in: the header carrying the Unix time the sender signed; the
    signature then covers ``{timestamp}.{body}`` and a timestamp outside
    ``tolerance_seconds`` (default 300) is refused, so a captured delivery cannot be
    replayed later."""
    public_key: str | None = None
    """``discord`` and ``sendgrid``: the provider's public key (not a secret) the requests
    are verified with."""
    verify_token: str | None = None
    """``meta``: the verify token you type into Meta's dashboard, ``${env:NAME}``; Meta's
    ``GET`` verification request must carry it."""

    @model_validator(mode="after")
    def _shape(self) -> Auth:
        if self.type == "static_header" and not self.header:
            raise ValueError("auth type 'static_header' needs 'header' (the header to compare)")
        if self.type not in ("hmac",) and self.encoding is not None:
            raise ValueError(f"'encoding' applies to auth type 'hmac', not '{self.type}'")
        if self.type not in ("hmac", "static_header") and self.header:
            raise ValueError(
                f"auth type '{self.type}' uses its own header; remove 'header'"
            )
        if self.signature is not None and self.type != "bearer":
            raise ValueError(f"'signature' applies to auth type 'bearer' (a token plus a body "
                             f"signature), not '{self.type}'")
        if self.type == "bearer" and self.secret is not None and self.signature is None:
            raise ValueError("auth type 'bearer' takes no 'secret': Hookplane issues the token "
                             "at apply ('reveal' shows it once); to also require a body "
                             "signature keyed with this secret, add 'signature: {}'")
        if self.timestamp_header is not None and self.type != "hmac":
            raise ValueError(f"'timestamp_header' applies to auth type 'hmac', not "
                             f"'{self.type}' (whose timestamp, if any, is its own)")
        preset = _presets.PRESETS[self.type]
        for option in ("public_key", "verify_token"):
            types = [name for name, p in _presets.PRESETS.items() if option in p.options]
            if getattr(self, option) is not None and option not in preset.options:
                raise ValueError(f"'{option}' applies to auth type {' and '.join(types)}, "
                                 f"not '{self.type}'")
            if getattr(self, option) is None and option in preset.required:
                what = ("the provider's public key (not a secret)" if option == "public_key"
                        else "${env:NAME}, the token you type into the provider's dashboard")
                raise ValueError(f"auth type '{self.type}' needs '{option}': {what}")
        if self.type in _presets.NO_SECRET and self.secret is not None:
            raise ValueError(f"auth type '{self.type}' takes no 'secret': it is verified with "
                             "the provider's public key ('public_key')")
        if self.public_key is not None and preset.check_public_key is not None:
            problem = preset.check_public_key(self.public_key)
            if problem:
                raise ValueError(f"auth.public_key {problem}")
        timestamped = self.type in TIMESTAMPED or (
            self.type == "hmac" and self.timestamp_header is not None)
        if self.tolerance_seconds is not None and not timestamped:
            raise ValueError(
                f"'tolerance_seconds' applies to timestamped schemes "
                f"({', '.join(_TIMESTAMP_FIRST)}, hmac with timestamp_header), "
                f"not '{self.type}'"
            )
        return self


class SourceBinding(_Model):
    collection: str
    source: str


class Hydration(_Model):
    """Reference-style webhooks: fetch the full record from the bound source by id."""

    id_path: str
    event_path: str | None = None
    event_map: dict[str, Literal["upsert", "delete"]] = Field(default_factory=dict)
    merge: bool = False
    attempts: int = Field(default=5, ge=1, le=50)

    @model_validator(mode="after")
    def _event_map_needs_path(self) -> Hydration:
        if self.event_map and not self.event_path:
            raise ValueError("'event_map' needs 'event_path' (where the event name is)")
        return self


class RateLimit(_Model):
    requests: int = Field(default=30, gt=0)
    per_seconds: Annotated[int, Field(gt=0, le=86400)] = 60
    ipv6_prefix: Annotated[int, Field(ge=32, le=128)] | None = None
    """IPv6 clients share a bucket per network of this prefix (default 64: one host holds a
    whole /64 and could otherwise rotate through it freely). None when not written, so
    webhooks applied before the setting existed plan as unchanged."""


class UpsertAction(_Model):
    key: str | None = None
    """External field (dot path) whose value identifies the record; absent = always insert."""


class CreateAction(_Model):
    collection: str
    fields: dict[str, Any] = Field(min_length=1)


class InvokeAction(_Model):
    url: str
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    input: dict[str, Any] | None = None
    """Templated input; absent = the payload is passed as it came."""
    timeout: Seconds = 30.0
    collection: str | None = None
    """Where executions are recorded (a collection with status/result fields), optional."""

    _seconds = field_validator("timeout", mode="before")(_seconds)


class Action(_Model):
    upsert: UpsertAction | None = None
    create: CreateAction | None = None
    invoke: InvokeAction | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value == "upsert":
            return {"upsert": {}}
        if isinstance(value, str):
            raise ValueError(
                f"unknown action '{value}'; use 'upsert', or a mapping with one of "
                "'upsert', 'create', 'invoke'"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        chosen = [n for n in ("upsert", "create", "invoke") if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "an action has exactly one of 'upsert', 'create', 'invoke'"
                + (f" (found {', '.join(chosen)})" if chosen else "")
            )
        return self

    @property
    def kind(self) -> str:
        return "create" if self.create else "invoke" if self.invoke else "upsert"


def _network(item: str) -> str:
    try:
        ipaddress.ip_network(item, strict=False)
    except ValueError:
        raise ValueError(
            f"'{item}' is not an IP address or CIDR range (e.g. 203.0.113.0/24, 2001:db8::/32)"
        ) from None
    return item


Network = Annotated[str, AfterValidator(_network)]
"""An IPv4/IPv6 address or CIDR range; checked per item so errors point at the item."""


class InboundWebhook(_Model):
    """An ingest URL external systems POST JSON to."""

    collection: str | None = None
    auth: Auth = Field(default_factory=Auth)
    mapping: Mapping | None = None
    source_binding: SourceBinding | None = None
    hydration: Hydration | None = None
    action: Action = Field(default_factory=lambda: Action(upsert=UpsertAction()))
    ip_allowlist: list[Network] = Field(default_factory=list)
    trusted_proxies: list[Network] = Field(default_factory=list)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    active: bool = True
    max_body_bytes: int = Field(default=1_048_576, gt=0, le=64 * 1_048_576)
    description: str | None = None
    protect: bool = False
    renamed_from: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> InboundWebhook:
        if self.mapping is not None and self.source_binding is not None:
            raise ValueError(
                "'mapping' and 'source_binding' are mutually exclusive: use the source's "
                "mapping or an inline one, not both"
            )
        if self.hydration is not None and self.source_binding is None:
            raise ValueError(
                "'hydration' needs a 'source_binding' (the source's read endpoint is fetched)"
            )
        if self.hydration is not None and self.action.kind != "upsert":
            raise ValueError("'hydration' works with the upsert action only")
        if self.action.kind == "upsert" and self.collection is None:
            raise ValueError("an upsert inbound webhook needs a target 'collection'")
        return self


# --------------------------------------------------------------------------- api keys

_SCOPE = re.compile(r"^(read|write)(:[A-Za-z0-9_-]+)?$")


def _scope(scope: str) -> str:
    if not _SCOPE.match(scope):
        raise ValueError(
            f"scope '{scope}' is not 'read', 'write', 'read:COLLECTION' or 'write:COLLECTION'"
        )
    return scope


Scope = Annotated[str, AfterValidator(_scope)]
"""``read``, ``write``, ``read:COLLECTION`` or ``write:COLLECTION``; checked per item."""


class ApiKey(_Model):
    scopes: list[Scope] = Field(min_length=1)
    description: str | None = None
    protect: bool = False
    renamed_from: str | None = None


# --------------------------------------------------------------------------- whole file

SECTIONS: dict[str, type[_Model]] = {
    "collections": Collection,
    "sources": Source,
    "triggers": Trigger,
    "inbound_webhooks": InboundWebhook,
    "api_keys": ApiKey,
}
"""Every YAML section that holds named resources, in dependency order."""

RESOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class DocumentShape(_Model):
    """The shape of one resource file (for the JSON Schema only; loading is per resource)."""

    collections: dict[str, Collection] | None = None
    sources: dict[str, Source] | None = None
    triggers: dict[str, Trigger] | None = None
    inbound_webhooks: dict[str, InboundWebhook] | None = None
    api_keys: dict[str, ApiKey] | None = None
