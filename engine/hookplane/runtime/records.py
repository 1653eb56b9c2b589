"""The records API service: API-key scopes, schema validation, JSON merge patch."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from hookplane.runtime.authguard import FailedAuth
from hookplane.runtime.events import WriteEvents
from hookplane.runtime.registry import CollectionView, EnvironmentView, Registry
from hookplane.state.runtime import InvalidQuery, Record, RecordNotFound, RuntimeStore


@dataclass
class Result:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


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
    def __init__(self, registry: Registry, store: RuntimeStore, events: WriteEvents, *,
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

    def _authorise(self, environment: str, collection: str, caller: Caller,
                   action: str) -> tuple[EnvironmentView, CollectionView] | Result:
        # authenticate before anything else is said: an unauthenticated caller learns
        # nothing about which environments and collections exist (no enumeration)
        token = caller.token
        if token is None:
            return Result(401, {"error": "API key required: Authorization: Bearer hpt_…"},
                          {"WWW-Authenticate": "Bearer"})
        wait = self.auth.retry_after(caller.address)
        if wait is not None:  # too many wrong keys from this client: not even checked
            return Result(429, {"error": "too many wrong API keys from this address; try "
                                f"again in {wait}s"}, {"Retry-After": str(wait)})
        view = self.registry.get(environment)
        key = (view.api_keys.get(hashlib.sha256(token.encode()).hexdigest())
               if view is not None else None)
        if view is None or key is None:  # an unknown environment has no valid key either
            self.auth.failed(caller.address, "records API")
            return Result(401, {"error": "invalid API key"}, {"WWW-Authenticate": "Bearer"})
        self.auth.succeeded(caller.address)
        if not key.allows(action, collection):
            return Result(403, {"error": f"API key '{key.name}' lacks the '{action}' scope "
                                f"for '{collection}'"})
        target = view.collections.get(collection)
        if target is None:
            return Result(404, {"error": f"no collection '{collection}' in '{environment}'"})
        return view, target

    def refuse(self, environment: str, collection: str, caller: Caller,
               action: str) -> Result | None:
        """The answer refusing this caller (401/403/404), or None when it may go on: checked
        before a request body is read, so an unauthenticated client costs no body read."""
        allowed = self._authorise(environment, collection, caller, action)
        return allowed if isinstance(allowed, Result) else None

    @staticmethod
    def _invalid(target: CollectionView, data: dict[str, Any]) -> Result | None:
        errors = target.validator.validate(data)
        if not errors:
            return None
        return Result(422, {"error": "record does not match the collection schema",
                            "fields": [{"path": e.path, "message": e.message} for e in errors]})

    async def create(self, environment: str, collection: str, caller: Caller,
                     data: dict[str, Any], *, origin: str) -> Result:
        allowed = self._authorise(environment, collection, caller, "write")
        if isinstance(allowed, Result):
            return allowed
        _, target = allowed
        invalid = self._invalid(target, data)
        if invalid is not None:
            return invalid
        with self._write_span(environment, collection, caller, origin):
            outbox = self.events.outbox(environment)
            record = await anyio.to_thread.run_sync(
                lambda: self.store.create(environment, collection, data, origin=origin,
                                          outbox=outbox))
        self.events.written()
        return Result(201, record_json(record), {"X-Hookplane-Source": origin})

    async def get(self, environment: str, collection: str, caller: Caller,
                  record_id: str) -> Result:
        allowed = self._authorise(environment, collection, caller, "read")
        if isinstance(allowed, Result):
            return allowed
        record = await anyio.to_thread.run_sync(
            lambda: self.store.get(environment, collection, record_id))
        if record is None:
            return Result(404, {"error": f"no record '{record_id}'"})
        return Result(200, record_json(record))

    async def list(self, environment: str, collection: str, caller: Caller, *,
                   filters: dict[str, str], limit: int, cursor: str | None) -> Result:
        allowed = self._authorise(environment, collection, caller, "read")
        if isinstance(allowed, Result):
            return allowed
        equals = {k: _filter_value(v) for k, v in filters.items()}
        try:
            records, next_cursor = await anyio.to_thread.run_sync(
                lambda: self.store.list(environment, collection, equals=equals, limit=limit,
                                        cursor=cursor))
        except (ValueError, InvalidQuery) as exc:  # a bad filter or cursor: the caller's
            return Result(400, {"error": str(exc)})
        return Result(200, {"data": [record_json(r) for r in records],
                            "next_cursor": next_cursor})

    async def update(self, environment: str, collection: str, caller: Caller,
                     record_id: str, patch: dict[str, Any], *, origin: str) -> Result:
        allowed = self._authorise(environment, collection, caller, "write")
        if isinstance(allowed, Result):
            return allowed
        _, target = allowed
        current = await anyio.to_thread.run_sync(
            lambda: self.store.get(environment, collection, record_id))
        if current is None:
            return Result(404, {"error": f"no record '{record_id}'"})
        data = merge_patch(current.data, patch)
        invalid = self._invalid(target, data)
        if invalid is not None:
            return invalid
        try:
            with self._write_span(environment, collection, caller, origin):
                outbox = self.events.outbox(environment)
                record, _ = await anyio.to_thread.run_sync(
                    lambda: self.store.update(environment, collection, record_id, data,
                                              origin=origin, outbox=outbox))
        except RecordNotFound:  # deleted since it was read
            return Result(404, {"error": f"no record '{record_id}'"})
        self.events.written()
        return Result(200, record_json(record), {"X-Hookplane-Source": origin})

    async def delete(self, environment: str, collection: str, caller: Caller,
                     record_id: str, *, origin: str) -> Result:
        allowed = self._authorise(environment, collection, caller, "write")
        if isinstance(allowed, Result):
            return allowed
        current = await anyio.to_thread.run_sync(
            lambda: self.store.get(environment, collection, record_id))
        if current is None:
            return Result(404, {"error": f"no record '{record_id}'"})
        try:
            with self._write_span(environment, collection, caller, origin):
                outbox = self.events.outbox(environment)
                record, _ = await anyio.to_thread.run_sync(
                    lambda: self.store.delete(environment, collection, record_id,
                                              origin=origin, outbox=outbox))
        except RecordNotFound:  # deleted since it was read
            return Result(404, {"error": f"no record '{record_id}'"})
        self.events.written()
        return Result(200, record_json(record), {"X-Hookplane-Source": origin})
