"""The records API service: API-key scopes, schema validation, JSON merge patch.

It answers with data (a record as JSON, a page) and refuses with domain errors
(:class:`~hookplane.errors.NotAuthenticated`, ``Throttled``, ``NotPermitted``,
``NotFound``, ``InvalidPayload``, ``InvalidQuery``): the statuses are
:mod:`hookplane.runtime.problems`'s.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from hookplane.errors import (
    InvalidPayload,
    InvalidQuery,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    RecordNotFound,
    Throttled,
)
from hookplane.runtime.authguard import FailedAuth
from hookplane.runtime.events import WriteEvents
from hookplane.runtime.registry import CollectionView, EnvironmentView, Registry
from hookplane.state.records import Record, Records


def record_json(record: Record) -> dict[str, Any]:
    return {"id": record.id, "collection": record.collection,
            "external_id": record.external_id, "data": record.data, "origin": record.origin,
            "version": record.version, "created_at": record.created_at,
            "updated_at": record.updated_at, "deleted_at": record.deleted_at}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _filter_value(text: str) -> str | int | float | bool | None:
    """Query values compare as JSON scalars when they parse as one (``true``, ``3``)."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Caller:
    """Who calls the records API: the bearer token sent (None: none) and the client address
    (for slowing down wrong keys)."""

    token: str | None
    address: str | None = None
    trace: Mapping[str, str] | None = None
    """The caller's W3C trace headers (``traceparent``), continued by the write's span."""


class RecordsService:
    def __init__(self, registry: Registry, store: Records, events: WriteEvents, *,
                 auth: FailedAuth | None = None) -> None:
        self.auth = auth or FailedAuth()
        self.registry = registry
        self.store = store
        self.events = events

    def _write_span(self, environment: str, collection: str, caller: Caller,
                    origin: str) -> Any:
        """The span of one record write through the API, continuing the caller's trace."""
        return self.events.tracing.span("hookplane.record.write", parent=caller.trace,
                                        attributes={"hookplane.environment": environment,
                                                    "hookplane.collection": collection,
                                                    "hookplane.origin": origin})

    def authorise(self, environment: str, collection: str, caller: Caller,
                  action: str) -> tuple[EnvironmentView, CollectionView]:
        """The environment and collection the caller may ``action`` (read/write), or the
        refusal raised: checked before a request body is read, so an unauthenticated client
        costs no body read."""
        # authenticate before anything else is said: an unauthenticated caller learns
        # nothing about which environments and collections exist (no enumeration)
        token = caller.token
        if token is None:
            raise NotAuthenticated("API key required: Authorization: Bearer hpt_…")
        wait = self.auth.retry_after(caller.address)
        if wait is not None:  # too many wrong keys from this client: not even checked
            raise Throttled("too many wrong API keys from this address; try again in "
                            f"{wait}s", retry_after=wait)
        view = self.registry.get(environment)
        key = (view.api_keys.get(hashlib.sha256(token.encode()).hexdigest())
               if view is not None else None)
        if view is None or key is None:  # an unknown environment has no valid key either
            self.auth.failed(caller.address, "records API")
            raise NotAuthenticated("invalid API key")
        self.auth.succeeded(caller.address)
        if not key.allows(action, collection):
            raise NotPermitted(f"API key '{key.name}' lacks the '{action}' scope for "
                               f"'{collection}'")
        target = view.collections.get(collection)
        if target is None:
            raise NotFound(f"no collection '{collection}' in '{environment}'")
        return view, target

    @staticmethod
    def _validate(target: CollectionView, data: dict[str, Any]) -> None:
        errors = target.validator.validate(data)
        if errors:
            raise InvalidPayload("record does not match the collection schema",
                                 fields=[{"path": e.path, "message": e.message}
                                         for e in errors])

    async def _current(self, environment: str, collection: str, record_id: str) -> Record:
        record = await anyio.to_thread.run_sync(
            lambda: self.store.get(environment, collection, record_id))
        if record is None:
            raise RecordNotFound(f"no record '{record_id}'")
        return record

    async def create(self, environment: str, collection: str, caller: Caller,
                     data: dict[str, Any], *, origin: str) -> dict[str, Any]:
        """The new record as JSON."""
        _, target = self.authorise(environment, collection, caller, "write")
        self._validate(target, data)
        with self._write_span(environment, collection, caller, origin):
            outbox = self.events.outbox(environment)
            record = await anyio.to_thread.run_sync(
                lambda: self.store.create(environment, collection, data, origin=origin,
                                          outbox=outbox))
        self.events.written()
        return record_json(record)

    async def get(self, environment: str, collection: str, caller: Caller,
                  record_id: str) -> dict[str, Any]:
        self.authorise(environment, collection, caller, "read")
        return record_json(await self._current(environment, collection, record_id))

    async def list(self, environment: str, collection: str, caller: Caller, *,
                   filters: dict[str, str], limit: int, cursor: str | None) -> dict[str, Any]:
        """A page: ``{"data": [...], "next_cursor": "…" | null}``."""
        self.authorise(environment, collection, caller, "read")
        equals = {k: _filter_value(v) for k, v in filters.items()}
        try:
            records, next_cursor = await anyio.to_thread.run_sync(
                lambda: self.store.list(environment, collection, equals=equals, limit=limit,
                                        cursor=cursor))
        except ValueError as exc:  # a bad filter or cursor: the caller's
            raise InvalidQuery(str(exc)) from exc
        return {"data": [record_json(r) for r in records], "next_cursor": next_cursor}

    async def update(self, environment: str, collection: str, caller: Caller,
                     record_id: str, patch: dict[str, Any], *, origin: str) -> dict[str, Any]:
        _, target = self.authorise(environment, collection, caller, "write")
        current = await self._current(environment, collection, record_id)
        data = merge_patch(current.data, patch)
        self._validate(target, data)
        with self._write_span(environment, collection, caller, origin):
            outbox = self.events.outbox(environment)
            try:
                record, _ = await anyio.to_thread.run_sync(
                    lambda: self.store.update(environment, collection, record_id, data,
                                              origin=origin, outbox=outbox))
            except RecordNotFound as exc:  # deleted since it was read
                raise RecordNotFound(f"no record '{record_id}'") from exc
        self.events.written()
        return record_json(record)

    async def delete(self, environment: str, collection: str, caller: Caller,
                     record_id: str, *, origin: str) -> dict[str, Any]:
        self.authorise(environment, collection, caller, "write")
        await self._current(environment, collection, record_id)
        with self._write_span(environment, collection, caller, origin):
            outbox = self.events.outbox(environment)
            try:
                record, _ = await anyio.to_thread.run_sync(
                    lambda: self.store.delete(environment, collection, record_id,
                                              origin=origin, outbox=outbox))
            except RecordNotFound as exc:  # deleted since it was read
                raise RecordNotFound(f"no record '{record_id}'") from exc
        self.events.written()
        return record_json(record)
