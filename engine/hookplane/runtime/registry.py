"""The runtime's in-memory view of the applied configuration, one per environment.

Built from :meth:`Store.runtime_view` (resolved ``${env:…}`` values and valid secrets
included) and rebuilt only when the environment's serial moves: the watcher polls the cheap
serial query once a second, so requests never read configuration from the database.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Final

from hookplane.config.models import (
    ApiKey,
    Collection,
    InboundWebhook,
    NamedEvent,
    Source,
    Trigger,
)
from hookplane.mapping import (
    MISSING,
    CompiledMapping,
    compile_filter,
    compile_mapping,
    get_path,
    json_equal,
    set_path,
)
from hookplane.mapping.schema import RecordValidator, compile_schema
from hookplane.state.store import Store

log = logging.getLogger("hookplane.runtime")


def _pack(spec: dict[str, Any]) -> bytes:
    """A resource's validated spec kept as compact JSON until first used: a pydantic model
    of a resource takes about 20 times the memory (10,000 resources: tens of MB)."""
    return json.dumps(spec, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class CollectionView:
    name: str
    packed: bytes

    @classmethod
    def of(cls, name: str, spec: Collection) -> CollectionView:
        return cls(name, _pack(spec.model_dump(mode="json", by_alias=True,
                                               exclude_unset=True)))

    @cached_property
    def spec(self) -> Collection:
        return Collection.model_validate_json(self.packed)

    @cached_property
    def validator(self) -> RecordValidator:
        """Compiled on first use: of 10,000 applied resources few receive writes at once,
        and compiled validators are most of a large configuration's memory."""
        return compile_schema(self.spec.schema_)

    @cached_property
    def named_events(self) -> tuple[NamedEventRule, ...]:
        """The collection's named events, their filters compiled (on first use)."""
        if b'"events"' not in self.packed:
            return ()
        return tuple(NamedEventRule.of(name, rule)
                     for name, rule in (self.spec.events or {}).items())


@dataclass(frozen=True)
class NamedEventRule:
    """A collection's named event, ready to test writes against (see
    :class:`~hookplane.config.models.NamedEvent`)."""

    name: str
    writes: frozenset[str]
    when: Callable[[dict[str, Any]], bool] | None
    changes: tuple[str, ...]

    @classmethod
    def of(cls, name: str, rule: NamedEvent) -> NamedEventRule:
        return cls(name, frozenset(rule.writes), compile_filter(rule.when) if rule.when else None,
                   tuple(rule.changes))

    def fires(self, event: str, data: dict[str, Any], previous: dict[str, Any] | None
              ) -> bool:
        """Whether a write (``create``/``update``/``delete``; ``data`` after it, ``previous``
        before it, None for a create) is this event."""
        if event not in self.writes:
            return False
        if self.changes:
            if event == "update" and previous is not None:
                changed = any(not json_equal(get_path(previous, f), get_path(data, f))
                              for f in self.changes)
            elif event == "create":
                changed = any(get_path(data, f) is not MISSING for f in self.changes)
            else:
                changed = True
            return changed and (self.when is None or self.when(data))
        if self.when is None:
            return True
        if not self.when(data):
            return False
        return event == "delete" or previous is None or not self.when(previous)


@dataclass(frozen=True)
class SourceView:
    name: str
    packed: bytes
    secret_headers: frozenset[str] = frozenset()
    """Lower-case names of headers whose value comes from ``${env:…}`` (masked in logs)."""

    @classmethod
    def of(cls, name: str, spec: Source, values: Iterable[str] = ()) -> SourceView:
        return cls(name, _pack(spec.model_dump(mode="json", by_alias=True,
                                               exclude_unset=True)),
                   _secret_headers(values, ("headers.", "write.headers.", "read.headers.")))

    @cached_property
    def spec(self) -> Source:
        return Source.model_validate_json(self.packed)

    @cached_property
    def mapping(self) -> CompiledMapping:
        """Compiled on first use (see :attr:`CollectionView.validator`)."""
        return compile_mapping(self.spec.mapping)


@dataclass(frozen=True)
class InboundView:
    id: str
    name: str
    environment: str
    spec: InboundWebhook
    secrets: tuple[str, ...]
    token_hashes: tuple[str, ...]
    source: SourceView | None
    signing_secrets: tuple[str, ...] = ()
    """Secrets that sign the calls of an ``invoke`` action (newest first), like deliveries."""

    @cached_property
    def mapping(self) -> CompiledMapping | None:
        """The inline mapping or the bound source's, compiled on first use."""
        if self.spec.mapping is not None:
            return compile_mapping(self.spec.mapping)
        return self.source.mapping if self.source is not None else None


@dataclass(frozen=True)
class TriggerView:
    """A trigger; what every write and claim looks at (collection, events, timeout) is kept
    unpacked, the rest of the spec is validated on first use."""

    id: str
    name: str
    collection: str | None
    events: tuple[str, ...]
    timeout: float
    packed: bytes
    secrets: tuple[str, ...]
    secret_headers: frozenset[str] = frozenset()
    """Lower-case names of headers whose value comes from ``${env:…}`` (masked in logs)."""

    @classmethod
    def of(cls, trigger_id: str, name: str, spec: Trigger,
           secrets: tuple[str, ...], values: Iterable[str] = ()) -> TriggerView:
        return cls(trigger_id, name, spec.collection, tuple(spec.events), spec.timeout,
                   _pack(spec.model_dump(mode="json", by_alias=True, exclude_unset=True)),
                   secrets, _secret_headers(values, ("headers.",)))

    @cached_property
    def spec(self) -> Trigger:
        return Trigger.model_validate_json(self.packed)


@dataclass(frozen=True)
class ApiKeyView:
    id: str
    name: str
    spec: ApiKey

    def allows(self, action: str, collection: str) -> bool:
        return action in self.spec.scopes or f"{action}:{collection}" in self.spec.scopes


@dataclass(frozen=True)
class EnvironmentView:
    name: str
    serial: int
    collections: dict[str, CollectionView] = field(default_factory=dict)
    sources: dict[str, SourceView] = field(default_factory=dict)
    inbound: dict[str, InboundView] = field(default_factory=dict)
    """By id (the ingest URL carries the id)."""
    triggers: dict[str, TriggerView] = field(default_factory=dict)
    """By name."""
    api_keys: dict[str, ApiKeyView] = field(default_factory=dict)
    """By token hash."""
    valid_until: datetime | None = None
    """When a rotated secret's grace period ends: the view must be rebuilt then."""

    def triggers_for(self, collection: str) -> list[TriggerView]:
        return self._triggers_by_collection.get(collection, [])

    @cached_property
    def longest_job_timeout(self) -> float:
        """The longest upstream call a job may make: a hydration fetch (the bound source's
        timeout) or an invoke call (the action's), 0 without such webhooks."""
        longest = 0.0
        for hook in self.inbound.values():
            action = hook.spec.action
            if action is not None and action.invoke is not None:
                longest = max(longest, action.invoke.timeout)
            if hook.spec.hydration is not None and hook.source is not None:
                longest = max(longest, hook.source.spec.timeout)
        return longest

    @cached_property
    def longest_timeout(self) -> float:
        """The longest delivery timeout of any trigger (0 without triggers), computed once
        per applied serial instead of on every claim."""
        return max((t.timeout for t in self.triggers.values()), default=0.0)

    @cached_property
    def _triggers_by_collection(self) -> dict[str | None, list[TriggerView]]:
        """Every write looks its collection's triggers up: an index, not a scan of all."""
        index: dict[str | None, list[TriggerView]] = {}
        for trigger in self.triggers.values():
            index.setdefault(trigger.collection, []).append(trigger)
        return index


def _secret_headers(paths: Iterable[str], prefixes: tuple[str, ...]) -> frozenset[str]:
    """Header names among the dotted paths of ``${env:…}`` values (``headers.X-Token``)."""
    return frozenset(path[len(prefix):].lower() for path in paths for prefix in prefixes
                     if path.startswith(prefix) and "." not in path[len(prefix):])


def _with_values(spec: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    if not values:
        return spec
    resolved = copy.deepcopy(spec)
    for path, value in values.items():
        set_path(resolved, path, value)
    return resolved


def build_view(store: Store, environment: str) -> EnvironmentView:
    """Read one environment's applied configuration and compile what requests need."""
    view = store.runtime_view(environment)
    collections: dict[str, CollectionView] = {}
    sources: dict[str, SourceView] = {}
    pending: list[Callable[[], None]] = []
    inbound: dict[str, InboundView] = {}
    triggers: dict[str, TriggerView] = {}
    api_keys: dict[str, ApiKeyView] = {}
    for resource in view.resources:
        spec = _with_values(resource.spec, resource.values)
        if resource.kind == "collections":
            collection = Collection.model_validate(spec)
            collections[resource.name] = CollectionView.of(resource.name, collection)
        elif resource.kind == "sources":
            source = Source.model_validate(spec)
            sources[resource.name] = SourceView.of(resource.name, source, resource.values)
        elif resource.kind == "triggers":
            triggers[resource.name] = TriggerView.of(
                resource.id, resource.name, Trigger.model_validate(spec),
                tuple(resource.secrets.get("signing_secret", ())), resource.values)
        elif resource.kind == "api_keys":
            key = ApiKeyView(resource.id, resource.name, ApiKey.model_validate(spec))
            for token_hash in resource.token_hashes:
                api_keys[token_hash] = key
        elif resource.kind == "inbound_webhooks":
            def later(resource: Any = resource, spec: dict[str, Any] = spec) -> None:
                hook = InboundWebhook.model_validate(spec)
                source = (sources.get(hook.source_binding.source)
                          if hook.source_binding else None)
                secrets = tuple(resource.secrets.get("hmac_secret", ()))
                if hook.auth.secret is not None:  # ${env:…} secret, resolved at apply
                    secrets = (hook.auth.secret,)
                inbound[resource.id] = InboundView(
                    resource.id, resource.name, environment, hook, secrets,
                    tuple(resource.token_hashes), source,
                    tuple(resource.secrets.get("signing_secret", ())))
            pending.append(later)
    for step in pending:
        step()
    return EnvironmentView(environment, view.serial, collections, sources, inbound, triggers,
                           api_keys, view.valid_until)


LEASE_MARGIN: Final = 5.0
"""Seconds a lease outlives the longest upstream call it covers (a delivery's or a job's
timeout), recording the outcome included."""


class Registry:
    """Every environment's view; :meth:`refresh` rebuilds those whose serial moved."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._views: dict[str, EnvironmentView] = {}

    def get(self, environment: str) -> EnvironmentView | None:
        return self._views.get(environment)

    def environments(self) -> list[str]:
        return sorted(self._views)

    def refresh(self) -> list[str]:
        """Reload changed environments; returns their names. Safe to call from a thread."""
        changed: list[str] = []
        names = self._store.environments()
        for name in names:
            serial = self._store.serial(name)
            current = self._views.get(name)
            if current is not None and current.serial == serial and (
                current.valid_until is None or current.valid_until > datetime.now(UTC)
            ):
                continue
            try:
                view = build_view(self._store, name)
            except Exception:  # keep serving the last good view; the log says why
                log.exception("could not load the applied configuration of %r", name)
                continue
            views = dict(self._views)
            views[name] = view
            self._views = views  # swap atomically: readers never see a half-built dict
            changed.append(name)
        for gone in set(self._views) - set(names):
            views = dict(self._views)
            views.pop(gone, None)
            self._views = views
        return changed
