"""``hookplane triggers deliveries|test|redeliver``: outbound delivery operations."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import click

from hookplane.cli.common import (
    Page,
    database_url_option,
    emit_pages,
    open_store,
    page_options,
    resource_name,
)
from hookplane.cli.main import Context
from hookplane.errors import StateError
from hookplane.runtime.admin import delivery_row
from hookplane.state.runtime import RuntimeStore


def add_commands(group: click.Group) -> None:
    @group.command("deliveries")
    @click.argument("environment")
    @click.argument("name")
    @click.option("--status", type=click.Choice(["pending", "in_flight", "delivered", "failed"]),
                  default=None, help="Only deliveries in this state.")
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
    @click.option("--json", "as_json", is_flag=True)
    @page_options
    @database_url_option
    @click.pass_obj
    def deliveries(obj: Context, environment: str, name: str, *, status: str | None,
                   limit: int, as_json: bool, cursor: str | None, all_pages: bool,
                   database_url: str | None) -> int:
        """Delivery history of trigger NAME (or its id), newest first, a page at a time."""
        with open_store(obj.root, database_url) as store:
            name = resource_name(store, environment, "triggers", name)
            resource = store.snapshot(environment).resources.get(f"triggers.{name}")
            if resource is None:
                raise StateError(f"no applied triggers.{name} in '{environment}'")
            runtime = RuntimeStore(store)

            def fetch(after: str | None) -> Page:
                page, following = runtime.deliveries_page(
                    environment, resource.id, status=status, limit=limit, cursor=after)
                return [delivery_row(d) for d in page], following

            return emit_pages(fetch, cursor=cursor, all_pages=all_pages, as_json=as_json,
                              line=_delivery_line, empty=f"No deliveries for {name} yet.")

    @group.command("delivery")
    @click.argument("environment")
    @click.argument("delivery_id")
    @click.option("--json", "as_json", is_flag=True)
    @database_url_option
    @click.pass_obj
    def delivery(obj: Context, environment: str, delivery_id: str, *, as_json: bool,
                 database_url: str | None) -> int:
        """One delivery with every attempt: status, latency, worker, error, the headers
        sent (secrets masked) and received, and the start of each response body."""
        with open_store(obj.root, database_url) as store:
            found = RuntimeStore(store).delivery(delivery_id)
        if found is None or found.environment != environment:
            raise StateError(f"no delivery {delivery_id} in '{environment}'")
        row = delivery_row(found)
        if as_json:
            click.echo(json.dumps(row, indent=2, default=str))
            return 0
        click.echo(_delivery_line(row))
        for number, attempt in enumerate(row["attempts_detail"], start=1):
            code = attempt["status_code"] if attempt["status_code"] is not None else "-"
            click.echo(f"\nattempt {number}  {attempt['at']}  HTTP {code}  "
                       f"{attempt['latency_ms'] or 0} ms  worker {attempt['worker'] or '-'}")
            if attempt.get("error"):
                click.echo(f"  error: {attempt['error']}")
            for title, key in (("sent", "request_headers"), ("received", "response_headers")):
                for header, value in (attempt.get(key) or {}).items():
                    click.echo(f"  {title} {header}: {value}")
            if attempt.get("response_excerpt"):
                click.echo(f"  body: {attempt['response_excerpt'][:500]}")
        return 0

    @group.command("enable")
    @click.argument("environment")
    @click.argument("name")
    @database_url_option
    @click.pass_obj
    def enable(obj: Context, environment: str, name: str, database_url: str | None) -> int:
        """Re-enable trigger NAME (or its id) after its circuit breaker disabled it (or
        close an open breaker now): its waiting deliveries are due at once. Audited."""
        from hookplane.cli.common import actor
        from hookplane.runtime.admin import enable_trigger

        with open_store(obj.root, database_url) as store:
            name = resource_name(store, environment, "triggers", name)
            done = enable_trigger(store, RuntimeStore(store), environment, name,
                                  actor=actor())
        before = done["breaker_before"]
        if before is None:
            click.echo(f"Trigger {name}'s circuit breaker was closed already; nothing to do.")
        else:
            state = "disabled" if before["disabled_at"] else "open"
            click.echo(f"Trigger {name} re-enabled (its breaker was {state} after "
                       f"{before['failures']} failed attempts); waiting deliveries are due "
                       "now.")
        return 0

    @group.command("redeliver")
    @click.argument("environment")
    @click.argument("delivery_id")
    @database_url_option
    @click.pass_obj
    def redeliver(obj: Context, environment: str, delivery_id: str,
                  database_url: str | None) -> int:
        """Queue failed delivery DELIVERY_ID again (same webhook-id, new attempts)."""
        with open_store(obj.root, database_url) as store:
            done = RuntimeStore(store).redeliver(delivery_id, environment=environment)
        if not done:
            raise StateError(f"delivery {delivery_id} in '{environment}' is not a failed "
                             "delivery (only failed deliveries can be redelivered)")
        click.echo(f"Delivery {delivery_id} queued again; a running 'hookplane serve' sends it.")
        return 0

    @group.command("recover")
    @click.argument("environment")
    @click.argument("name")
    @click.option("--since", required=True, metavar="WHEN",
                  help="Deliveries created at or after WHEN: an ISO 8601 time "
                       "(2026-12-04T08:00Z) or a time ago (90m, 24h, 7d).")
    @click.option("--include-delivered", is_flag=True,
                  help="Send delivered ones again too (default: failed ones only).")
    @database_url_option
    @click.pass_obj
    def recover(obj: Context, environment: str, name: str, *, since: str,
                include_delivered: bool, database_url: str | None) -> int:
        """Queue again every failed delivery of trigger NAME (or its id) since WHEN, as one
        audited operation; a running 'hookplane serve' sends them. Running it again while
        they are queued queues nothing twice."""
        from hookplane.cli.common import actor
        from hookplane.runtime.admin import recover_deliveries

        start = _since(since)
        with open_store(obj.root, database_url) as store:
            name = resource_name(store, environment, "triggers", name)
            queued = recover_deliveries(
                store, RuntimeStore(store), environment, name, since=start,
                include_delivered=include_delivered, actor=actor(),
                progress=lambda total: click.echo(f"queued {total:,} so far …", err=True))
        what = "failed or delivered" if include_delivered else "failed"
        click.echo(f"{queued:,} {what} deliveries of {name} since "
                   f"{start.isoformat(timespec='seconds')} queued again; a running "
                   "'hookplane serve' sends them.")
        return 0

    @group.command("test")
    @click.argument("environment")
    @click.argument("name")
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--server", default=None, metavar="URL",
                  help="The running server to send through (default: $HOOKPLANE_SERVER_URL, "
                       "$HOOKPLANE_PUBLIC_URL, http://127.0.0.1:8080).")
    @click.option("--local", is_flag=True,
                  help="Send from this process instead of through the server.")
    @database_url_option
    @click.pass_obj
    def test(obj: Context, environment: str, name: str, *, as_json: bool, server: str | None,
             local: bool, database_url: str | None) -> int:
        """Send a synthetic, signed 'test' event to trigger NAME (or its id) and print the
        answer.

        With a server reachable and HOOKPLANE_ADMIN_TOKEN set, the server sends it (its
        delivery path and egress allowlist, as the console's Test button does); otherwise
        this process sends it, and says why.
        """
        if name.startswith("trg_"):  # an id, as the console and the admin API show it
            with open_store(obj.root, database_url) as store:
                name = resource_name(store, environment, "triggers", name)
        result: dict[str, Any] | None = None
        if not local:
            result = _test_through_server(server, environment, name)
        if result is None:
            result = _test_here(obj, environment, name, database_url)
        if as_json:
            click.echo(json.dumps(result, indent=2, default=str))
        else:
            for key, value in result.items():
                click.echo(f"{key}: {value}")
        return 0 if result.get("success") else 1


def _delivery_line(row: dict[str, Any]) -> str:
    code = row["last_status_code"] or "-"
    error = f"  {row['last_error'][:80]}" if row.get("last_error") else ""
    return (f"{row['created_at']}  {row['id']}  {row['event']:<8} {row['status']:<9} "
            f"HTTP {code}  attempts {row['attempts']}/{row['max_attempts']}  "
            f"{row['latency_ms'] or 0} ms{error}")


def _test_through_server(given: str | None, environment: str, name: str
                         ) -> dict[str, Any] | None:
    """The server's answer, or None (with the reason on stderr) when it cannot be asked."""
    from hookplane.cli import admin_client

    url = admin_client.server_url(given)
    token = os.environ.get("HOOKPLANE_ADMIN_TOKEN")
    if not token:
        click.echo(f"note: HOOKPLANE_ADMIN_TOKEN is not set, so the server at {url} cannot be "
                   "asked; sending from this process (its own HOOKPLANE_ALLOW_NETWORKS "
                   "applies)", err=True)
        return None
    try:
        answer = admin_client.post(url, [environment, "triggers", name, "test"], token=token)
    except admin_client.ServerUnreachable as exc:
        click.echo(f"note: {exc}; sending from this process instead (its own "
                   "HOOKPLANE_ALLOW_NETWORKS applies; --server URL names the server)", err=True)
        return None
    if answer.status == 200:
        return {**answer.body, "sent_by": f"server {url}"}
    reason = answer.body.get("error") or f"HTTP {answer.status}"
    if answer.status in (401, 403):
        raise StateError(f"the server at {url} refused the admin token ({reason}); check "
                         "HOOKPLANE_ADMIN_TOKEN")
    if answer.status == 429:
        raise StateError(f"the server at {url} is slowing down admin requests ({reason})")
    if answer.status == 404:
        raise StateError(f"the server at {url}: {reason} (is '{environment}' applied and the "
                         "trigger declared there?)")
    raise StateError(f"the server at {url} could not send the test: {reason}")


def _test_here(obj: Context, environment: str, name: str,
               database_url: str | None) -> dict[str, Any]:
    from hookplane.runtime.dispatch import Dispatcher
    from hookplane.runtime.egress import sender_from_env
    from hookplane.runtime.metrics import Metrics
    from hookplane.runtime.registry import Registry, build_view

    with open_store(obj.root, database_url) as store:
        view = build_view(store, environment)

        async def send() -> dict[str, Any]:
            async with sender_from_env() as sender:
                dispatcher = Dispatcher(Registry(store), RuntimeStore(store), sender,
                                        Metrics(), worker="cli-test")
                return await dispatcher.send_test(view, name)

        result = anyio.run(send)
    return {**result, "sent_by": "this process"}


_AGO = {"m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> datetime:
    """``--since``: an ISO 8601 time (UTC when it has no offset) or ``90m``/``24h``/``7d``."""
    value = text.strip()
    if value[:-1].isdigit() and value[-1:] in _AGO:
        return datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * _AGO[value[-1]])
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{text}' is neither an ISO 8601 time "
                                 "(2026-12-04T08:00Z) nor a time ago (90m, 24h, 7d)",
                                 param_hint="--since") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
