"""What each console page shows, read from the same services the admin API uses.

Every function here is synchronous (store reads): routes run them in a worker thread. They
reuse :mod:`hookplane.runtime.admin` (``describe_triggers``, ``trigger_deliveries``,
``describe_inbound``, ``inbound_deliveries``, ``delivery_row``) and only add what a page
needs on top: masked URLs and headers, declarations, job progress, per-minute counts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookplane.config.models import NamedEvent
from hookplane.runtime.admin import (
    delivery_row,
    describe_inbound,
    describe_triggers,
    inbound_deliveries,
    trigger_deliveries,
)
from hookplane.runtime.console.charts import deliveries_chart
from hookplane.runtime.console.masking import mask_headers, mask_url
from hookplane.state.runtime import InvalidQuery

if TYPE_CHECKING:
    from hookplane.runtime.registry import EnvironmentView
    from hookplane.runtime.services import Services

DELIVERY_STATUSES = ("pending", "in_flight", "delivered", "failed")
REJECTIONS = {
    400: "not JSON, or not a JSON object",
    401: "signature or token missing or invalid",
    403: "webhook inactive, or caller's IP not allowed",
    404: "unknown webhook",
    409: "duplicate delivery (already received)",
    413: "body larger than max_body_bytes",
    422: "payload does not match the collection's schema after mapping",
    429: "rate limited",
    503: "state database unavailable",
}
REASONS = {
    "missing_id": "no record id at the hydration's id_path in the payload",
}
"""Explanations of rejections whose status code alone would mislead (a 422 is not always a
schema mismatch)."""
_USER_AGENT = "Hookplane/… (per attempt)"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _pretty_text(text: str | None) -> str | None:
    """JSON text indented for reading; other text as it is."""
    if text is None:
        return None
    try:
        return _pretty(json.loads(text))
    except ValueError:
        return text


# -------------------------------------------------------------------------- overview


def overview(services: Services, view: EnvironmentView, *, now: datetime) -> dict[str, Any]:
    environment = view.name
    history = services.store.history(environment, limit=500)
    last_apply = next((e for e in history if e.action == "apply"), None)
    last_promotion = next((e for e in history if e.action == "promote"), None)
    since = now - timedelta(minutes=60)
    outbound = services.runtime.outbound_per_minute(environment, since=since)
    inbound = services.runtime.inbound_per_minute(environment, since=since)
    records = services.runtime.record_counts(environment)
    return {
        "serial": view.serial,
        "last_apply": last_apply,
        "last_promotion": last_promotion,
        "recent": history[:8],
        "counts": {
            "collections": len(view.collections), "triggers": len(view.triggers),
            "inbound webhooks": len(view.inbound), "sources": len(view.sources),
            "API keys": len({k.name for k in view.api_keys.values()}),
            "records": sum(records.values()),
            "deliveries queued": services.runtime.outbox_depth(environment),
            "jobs queued": services.runtime.jobs_pending(environment),
        },
        "outbound_chart": deliveries_chart(outbound, now=now, chart_id="chart-outbound",
                                           title="Outbound deliveries per minute, last hour"),
        "inbound_chart": deliveries_chart(inbound, now=now, chart_id="chart-inbound",
                                          title="Inbound deliveries per minute, last hour"),
        "outbound_totals": (sum(b.succeeded for b in outbound), sum(b.failed for b in outbound)),
        "inbound_totals": (sum(b.succeeded for b in inbound), sum(b.failed for b in inbound)),
    }


# -------------------------------------------------------------------------- triggers


def trigger_cards(services: Services, view: EnvironmentView,
                  declared: dict[str, str]) -> list[dict[str, Any]]:
    rows = describe_triggers(services, view.name) or []
    for row in rows:
        trigger = view.triggers[row["name"]]
        row["destination"] = (mask_url(trigger.spec.url) if trigger.spec.url
                              else f"source '{row['external_write']}' (external write)")
        row["declared_in"] = declared.get(f"triggers.{row['name']}")
        row["description"] = trigger.spec.description
    return rows


def _secret_infos(services: Services, environment: str, kind: str,
                  name: str) -> list[dict[str, Any]]:
    return [{"kind": i.kind.replace("_", " "), "prefix": i.display_prefix, "status": i.status,
             "created_at": i.created_at, "expires_at": i.expires_at}
            for i in services.store.secret_info(environment, kind, name)]


def trigger_detail(services: Services, view: EnvironmentView, name: str, *,
                   status: str | None, declared: dict[str, str]) -> dict[str, Any] | None:
    trigger = view.triggers.get(name)
    if trigger is None:
        return None
    card = next(c for c in trigger_cards(services, view, declared) if c["name"] == name)
    spec = trigger.spec
    wanted = status if status in DELIVERY_STATUSES else None
    deliveries = (trigger_deliveries(services, view.name, name, status=wanted, limit=100)
                  or ([], None))[0]
    retry = ("none" if spec.retry == "none" else
             f"{spec.retry.attempts} attempts, {spec.retry.backoff} backoff")
    return {
        "card": card,
        "status": wanted,
        "statuses": DELIVERY_STATUSES,
        "deliveries": deliveries,
        "signing_header": spec.signing.header,
        "timeout": spec.timeout,
        "retry": retry,
        "secrets": _secret_infos(services, view.name, "triggers", name),
        "configured_secret": spec.signing.secret is not None,
        "can_test": spec.url is not None and spec.external_write is None,
        "breaker": _breaker(services, trigger.id, spec.circuit_breaker is not None),
        "recover_windows": RECOVER_WINDOWS,
    }


RECOVER_WINDOWS = {"1h": "the last hour", "24h": "the last 24 hours", "7d": "the last 7 days",
                   "30d": "the last 30 days"}
"""What the console's bulk recovery offers (the CLI and admin API take any time)."""


def _breaker(services: Services, trigger_id: str, configured: bool) -> dict[str, Any]:
    """The trigger's circuit breaker as the console shows it: ``state`` is ``closed``,
    ``open`` (deliveries wait until ``open_until``) or ``disabled`` (until re-enabled)."""
    health = services.runtime.breaker(trigger_id)
    if health is None or (health.disabled_at is None and health.open_until is None):
        state = "closed"
    elif health.disabled_at is not None:
        state = "disabled"
    else:
        state = "open"
    return {"configured": configured, "state": state,
            "failures": health.failures if health else 0,
            "failing_since": health.failing_since if health else None,
            "open_until": health.open_until if health else None,
            "disabled_at": health.disabled_at if health else None,
            "reason": health.reason if health else None}


def delivery_detail(services: Services, view: EnvironmentView, name: str,
                    delivery_id: str) -> dict[str, Any] | None:
    trigger = view.triggers.get(name)
    delivery = services.runtime.delivery(delivery_id)
    if trigger is None or delivery is None or delivery.environment != view.name \
            or delivery.trigger_id != trigger.id:
        return None
    row = delivery_row(delivery)
    payload = delivery.payload
    target = payload.get("target")
    if isinstance(target, dict):
        source = view.sources.get(str(target.get("source")))
        base = source.spec.base_url if source is not None else None
        method = str(target.get("method") or "PUT")
        url = mask_url(base)
    else:
        method, url = "POST", mask_url(trigger.spec.url)
    headers = [("Content-Type", str(payload.get("content_type") or "application/json")),
               ("User-Agent", _USER_AGENT)]
    headers.extend(trigger.spec.headers.items())
    signature_headers = [trigger.spec.signing.header, "webhook-id", "webhook-timestamp",
                         "webhook-signature", "X-Hookplane-Event"]
    body = payload.get("body")
    return {
        "delivery": row,
        "method": method,
        "url": url,
        "headers": mask_headers(headers),
        "signature_headers": signature_headers,
        "body": _pretty_text(body if isinstance(body, str) else None),
        "attempts": [{**a, "response": _pretty_text(a.get("response_excerpt"))}
                     for a in row["attempts_detail"]],
        "can_redeliver": delivery.status == "failed",
    }


# -------------------------------------------------------------------------- inbound


def inbound_cards(services: Services, view: EnvironmentView, *, base_url: str,
                  declared: dict[str, str]) -> list[dict[str, Any]]:
    rows = describe_inbound(services, view.name) or []
    for row in rows:
        hook = view.inbound[row["id"]]
        row["ingest_url"] = base_url.rstrip("/") + row["ingest_path"]
        row["declared_in"] = declared.get(f"inbound_webhooks.{row['name']}")
        row["description"] = hook.spec.description
        row["action"] = hook.spec.action.kind
        row["hydration"] = hook.spec.hydration is not None
    return rows


def inbound_detail(services: Services, view: EnvironmentView, name: str, *, base_url: str,
                   declared: dict[str, str]) -> dict[str, Any] | None:
    card = next((c for c in inbound_cards(services, view, base_url=base_url, declared=declared)
                 if c["name"] == name), None)
    if card is None:
        return None
    hook = view.inbound[card["id"]]
    entries = (inbound_deliveries(services, view.name, name, 100) or ([], None))[0]
    for entry in entries:
        entry["explanation"] = (REASONS.get(entry["reason"])
                                or REJECTIONS.get(entry["status_code"])
                                if entry["status_code"] >= 400 else None)
    secrets = _secret_infos(services, view.name, "inbound_webhooks", name)
    return {
        "card": card,
        "entries": entries,
        "secrets": secrets,
        "rotatable": any(s["status"] == "current" for s in secrets),
        "ip_allowlist": [str(n) for n in hook.spec.ip_allowlist],
        "rate_limit": hook.spec.rate_limit,
        "max_body_bytes": hook.spec.max_body_bytes,
    }


# -------------------------------------------------------------------------- records


def collections(services: Services, view: EnvironmentView,
                declared: dict[str, str]) -> list[dict[str, Any]]:
    counts = services.runtime.record_counts(view.name)
    return [{"name": name, "records": counts.get(name, 0),
             "description": c.spec.description,
             "events": [{"name": event, "description": rule.description,
                         "rule": _event_rule(rule)}
                        for event, rule in (c.spec.events or {}).items()],
             "declared_in": declared.get(f"collections.{name}")}
            for name, c in sorted(view.collections.items())]


def _event_rule(rule: NamedEvent) -> str:
    """A named event's rule in one line (the console's tooltip)."""
    parts = [f"on {', '.join(rule.writes)}"]
    if rule.changes:
        parts.append(f"when {', '.join(rule.changes)} changes")
    if rule.when:
        parts.append(("and it matches " if rule.changes else "when it becomes ")
                     + json.dumps(rule.when, sort_keys=True, ensure_ascii=False))
    return "; ".join(parts)


def records_page(services: Services, view: EnvironmentView, collection: str, *,
                 cursor: str | None, limit: int = 25) -> dict[str, Any] | None:
    if collection not in view.collections:
        return None
    try:
        records, following = services.runtime.list(view.name, collection, limit=limit,
                                                    cursor=cursor)
    except InvalidQuery:
        records, following = services.runtime.list(view.name, collection, limit=limit)
        cursor = None
    rows = []
    for record in records:
        preview = json.dumps(record.data, sort_keys=True, ensure_ascii=False)
        rows.append({"id": record.id, "external_id": record.external_id,
                     "origin": record.origin, "version": record.version,
                     "created_at": record.created_at, "updated_at": record.updated_at,
                     "preview": preview if len(preview) <= 140 else preview[:139] + "…"})
    return {"collection": collection, "records": rows, "next": following,
            "first_page": cursor is None}


def record_detail(services: Services, view: EnvironmentView, collection: str,
                  record_id: str) -> dict[str, Any] | None:
    if collection not in view.collections:
        return None
    record = services.runtime.get(view.name, collection, record_id)
    if record is None:
        return None
    return {"record": record, "json": _pretty(record.data)}
