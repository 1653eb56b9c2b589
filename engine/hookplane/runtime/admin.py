"""Management views shared by the admin API (the CLI reads the same store functions)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hookplane.config.applied import SecretKind
from hookplane.errors import BadRequest, Conflict, NotFound, StateError
from hookplane.state.store import AuditRecord, Store

if TYPE_CHECKING:
    from hookplane.runtime.services import Services
    from hookplane.state.outbox import Outbox
    from hookplane.state.runtime import Job, RuntimeStore
    from hookplane.state.triggers import Triggers


def describe_inbound(services: Services, environment: str) -> list[dict[str, Any]] | None:
    view = services.registry.get(environment)
    if view is None:
        return None
    rows = []
    for hook in sorted(view.inbound.values(), key=lambda h: h.name):
        infos = services.store.secret_info(environment, "inbound_webhooks", hook.name)
        prefix = next((i.display_prefix for i in infos
                       if i.kind == "token" and i.status == "current"), None)
        rows.append({
            "id": hook.id, "name": hook.name, "collection": hook.spec.collection,
            "ingest_path": f"/inbound/{environment}/{hook.id}/ingest",
            "auth_type": hook.spec.auth.type, "token_prefix": prefix,
            "has_secret": bool(hook.secrets or hook.token_hashes),
            "is_active": hook.spec.active,
            "last_used_at": services.runtime.last_used_at(environment, hook.id),
        })
    return rows


def inbound_deliveries(services: Services, environment: str, name: str, limit: int,
                       cursor: str | None = None
                       ) -> tuple[list[dict[str, Any]], str | None] | None:
    """A page of the webhook's log and the next page's cursor (None: no such webhook)."""
    view = services.registry.get(environment)
    hook = next((h for h in view.inbound.values() if h.name == name), None) if view else None
    if hook is None:
        return None
    return inbound_log_rows(services.runtime, environment, hook.id, limit=limit, cursor=cursor)


def inbound_log_rows(runtime: RuntimeStore, environment: str, webhook_id: str, *,
                     limit: int, cursor: str | None = None
                     ) -> tuple[list[dict[str, Any]], str | None]:
    """A page of an inbound webhook's log, newest first, and the next page's cursor; an
    entry that queued a hydration or invoke job carries the job as it stands now (``job``:
    kind, status, attempts, last error, result, next attempt), so the admin API and the CLI
    show whether it succeeded."""
    page, following = runtime.inbound_log_page(environment, webhook_id, limit=limit,
                                               cursor=cursor)
    entries = [dataclasses.asdict(entry) for entry in page]
    jobs = runtime.jobs_by_id([e["job_id"] for e in entries if e.get("job_id")])
    for entry in entries:
        job = jobs.get(entry.get("job_id") or "")
        entry["job"] = job_summary(job) if job is not None else None
    return entries, following


def job_summary(job: Job) -> dict[str, Any]:
    """What a reader needs of a job: did it succeed, how often was it tried, why not."""
    return {"id": job.id, "kind": job.kind, "status": job.status, "attempts": job.attempts,
            "max_attempts": job.max_attempts, "last_error": job.last_error,
            "result": job.result,
            "next_attempt_at": job.next_attempt_at if job.status == "pending" else None,
            "updated_at": job.updated_at}


def rotate(services: Services, environment: str, kind: str, name: str, *,
           actor: str = "admin api", which: str | None = None) -> dict[str, Any]:
    """Rotate a generated secret (24 h grace); ``actor`` is what the audit log records,
    ``which`` the secret kind when the resource has several (default: the first). Refuses
    with ``NotFound``, ``Conflict`` (nothing generated to rotate), ``BadRequest`` (no such
    secret kind) or ``SecretError``."""
    view = services.registry.get(environment)
    if view is None:
        raise NotFound(f"no environment '{environment}'")
    snapshot = services.store.snapshot(environment)
    resource = snapshot.resources.get(f"{kind}.{name}")
    if resource is None:
        raise NotFound(f"no {kind}.{name} in '{environment}'")
    kinds: dict[str, SecretKind] = {"signing_secret": "signing_secret",
                                     "hmac_secret": "hmac_secret", "token": "token"}
    generated = [kinds[g] for g in resource.generated if g in kinds]
    if not generated:
        raise Conflict(f"{kind}.{name} has no generated secret to rotate (it comes from "
                       "${env:…}; change the variable and apply)")
    if which is not None and which not in generated:
        raise BadRequest(f"{kind}.{name} has no generated {which}; it has "
                         + ", ".join(generated))
    chosen = kinds[which] if which is not None else generated[0]
    secret = services.store.rotate_secret(environment, kind, name, chosen,
                                          grace_hours=24, actor=actor)
    previous = [info.expires_at for info in services.store.secret_info(
        environment, kind, name) if info.kind == chosen
        and info.status == "previous" and info.expires_at]
    services.registry.refresh()
    expires = max(previous) if previous else None
    return {"secret": secret, "kind": chosen, "grace_period_hours": 24,
            "old_secret_expires_at": expires,
            "note": "shown once: store it now; the old secret stays valid until "
                    f"{expires or 'the grace period ends (24 hours)'}"}


def delivery_row(delivery: Any) -> dict[str, Any]:
    """One delivery with its attempts (time, HTTP status, success, latency, error); the
    payload is left out (it may hold personal data; receivers have it)."""
    data: dict[str, Any] = dataclasses.asdict(delivery)
    for private in ("payload", "claimed_by", "claimed_until"):
        data.pop(private, None)
    attempts = data.pop("history", [])
    data["attempts_detail"] = attempts
    data["latency_ms"] = attempts[-1].get("latency_ms") if attempts else None
    data["success"] = data["status"] == "delivered"
    return data


def describe_triggers(services: Services, environment: str) -> list[dict[str, Any]] | None:
    view = services.registry.get(environment)
    if view is None:
        return None
    rows = []
    for trigger in sorted(view.triggers.values(), key=lambda t: t.name):
        spec = trigger.spec
        last = services.runtime.deliveries(environment, trigger.id, limit=1)
        rows.append({
            "id": trigger.id, "name": trigger.name, "collection": spec.collection,
            "events": list(spec.events), "destination_host": _host(spec.url),
            "external_write": spec.external_write.source if spec.external_write else None,
            "is_active": spec.active, "has_secret": bool(trigger.secrets),
            "last_delivery_status": last[0].status if last else None,
            "last_delivery_at": last[0].created_at if last else None,
        })
    return rows


def _host(url: str | None) -> str | None:
    """Only the host: a full webhook URL often holds a secret (Slack, Discord)."""
    if not url:
        return None
    from urllib.parse import urlsplit

    return urlsplit(url).hostname


def trigger_deliveries(services: Services, environment: str, name: str, *, status: str | None,
                       limit: int, cursor: str | None = None
                       ) -> tuple[list[dict[str, Any]], str | None] | None:
    """A page of the trigger's deliveries and the next page's cursor (None: no such
    trigger)."""
    view = services.registry.get(environment)
    trigger = view.triggers.get(name) if view else None
    if trigger is None:
        return None
    page, following = services.runtime.deliveries_page(
        environment, trigger.id, status=status, limit=limit, cursor=cursor)
    return [delivery_row(d) for d in page], following


def enable_trigger(store: Store, runtime: Triggers, environment: str, name: str, *,
                   actor: str) -> dict[str, Any]:
    """Close trigger ``name``'s circuit breaker (re-enable it after ``trigger.disabled``):
    its waiting deliveries are due at once. One audited operation for the CLI and the admin
    API; returns what the breaker held."""
    resource = store.snapshot(environment).resources.get(f"triggers.{name}")
    if resource is None:
        raise StateError(f"no applied triggers.{name} in '{environment}'")
    health = runtime.breaker(resource.id)
    closed = runtime.enable_trigger(resource.id, environment=environment)
    before = dataclasses.asdict(health) if health is not None else None
    store.record_audit(environment, AuditRecord(
        action="enable-trigger", actor=actor,
        details={"address": f"triggers.{name}", "was_disabled": bool(
            health is not None and health.disabled_at), "closed": closed}))
    return {"trigger": name, "closed": closed, "breaker_before": before}


def recover_deliveries(store: Store, runtime: Outbox, environment: str, name: str, *,
                       since: datetime, include_delivered: bool, actor: str,
                       progress: Callable[[int], None] | None = None) -> int:
    """Bulk recovery, one audited operation for the CLI, the admin API and the console:
    queue again every failed (with ``include_delivered``, every finished) delivery of
    trigger ``name`` created since ``since``. Idempotent while those deliveries are queued:
    a second run queues none of them twice. Returns how many were queued."""
    resource = store.snapshot(environment).resources.get(f"triggers.{name}")
    if resource is None:
        raise StateError(f"no applied triggers.{name} in '{environment}'")
    queued = runtime.redeliver_since(environment, resource.id, since=since,
                                     include_delivered=include_delivered, progress=progress)
    store.record_audit(environment, AuditRecord(
        action="recover-deliveries", actor=actor,
        details={"address": f"triggers.{name}", "since": since.isoformat(),
                 "include_delivered": include_delivered, "queued": queued}))
    return queued
