"""``hookplane triggers|inbound-webhooks|api-keys list|get|reveal``: read the applied state."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

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
from hookplane.config.applied import SecretKind
from hookplane.errors import StateError
from hookplane.state.runtime import RuntimeStore

_SECRET_KINDS: dict[str, SecretKind] = {"signing_secret": "signing_secret",
                                         "hmac_secret": "hmac_secret", "token": "token"}
_SECRET_FOR: dict[str, SecretKind] = {"triggers": "signing_secret",
                                       "inbound_webhooks": "hmac_secret"}


def _group(kind: str, title: str) -> click.Group:
    command_name = kind.replace("_", "-")

    @click.group(command_name, help=f"Inspect applied {title}.")
    def group() -> None:
        pass

    @group.command("list")
    @click.argument("environment")
    @click.option("--json", "as_json", is_flag=True)
    @database_url_option
    @click.pass_obj
    def list_command(obj: Context, environment: str, as_json: bool, *,
                     database_url: str | None) -> int:
        """List applied resources of this kind in ENVIRONMENT."""
        with open_store(obj.root, database_url) as store:
            snapshot = store.snapshot(environment)
            rows = [_describe(store, environment, r.kind, r.name, snapshot)
                    for r in snapshot.resources.values() if r.kind == kind]
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return 0
        if not rows:
            click.echo(f"No {title} applied in '{environment}'.")
        for row in rows:
            state = "active" if row.get("is_active", True) else "inactive"
            click.echo(f"{row['name']}  {row['id']}  {state}")
        return 0

    @group.command("get")
    @click.argument("environment")
    @click.argument("name")
    @click.option("--show-secret", is_flag=True,
                  help="Print the signing secret (triggers, HMAC-style inbound webhooks, and "
                       "the secret that signs an invoke action's calls).")
    @click.option("--json", "as_json", is_flag=True)
    @database_url_option
    @click.pass_obj
    def get_command(obj: Context, environment: str, name: str, *, show_secret: bool,
                    as_json: bool, database_url: str | None) -> int:
        """Show one applied resource (NAME, or its id)."""
        with open_store(obj.root, database_url) as store:
            name = resource_name(store, environment, kind, name)
            row = _describe(store, environment, kind, name)
            if kind == "triggers":  # the circuit breaker, when it has counted failures
                health = RuntimeStore(store).breaker(str(row["id"]))
                row["circuit_breaker"] = (
                    "closed" if health is None else
                    f"disabled since {health.disabled_at}: {health.reason}"
                    if health.disabled_at else
                    f"open until {health.open_until} ({health.failures} failed in a row)"
                    if health.open_until else f"closed ({health.failures} failed in a row)")
            if show_secret:
                secret_kind = _SECRET_FOR.get(kind)
                invoke = kind == "inbound_webhooks" and "signing_secret" in row["generated"]
                readable = secret_kind is not None and secret_kind in row["generated"]
                if not readable and not invoke:
                    raise StateError(
                        f"{kind}.{name} has no readable secret"
                        + ("; tokens are shown once with 'reveal'" if kind != "triggers" else "")
                    )
                if readable and secret_kind is not None:
                    row["secret"] = store.read_secret(environment, kind, name, secret_kind)
                if invoke:  # signs the invoke action's calls to the runner
                    row["invoke_signing_secret"] = store.read_secret(
                        environment, kind, name, "signing_secret")
        if as_json:
            click.echo(json.dumps(row, indent=2))
            return 0
        for key, value in row.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            click.echo(f"{key}: {shown}")
        return 0

    @group.command("rotate-secret")
    @click.argument("environment")
    @click.argument("name")
    @click.option("--grace-hours", default=24.0, show_default=True, type=click.FloatRange(0),
                  help="How long the old secret stays valid.")
    @click.option("--secret", "which", type=click.Choice(sorted(_SECRET_KINDS)),
                  help="Which secret, when the resource has several (a bearer webhook with "
                       "a body signature: token and hmac_secret; an invoke action: also "
                       "signing_secret). Default: the first one apply generated.")
    @database_url_option
    @click.pass_obj
    def rotate_command(obj: Context, environment: str, name: str, *, grace_hours: float,
                       which: str | None, database_url: str | None) -> int:
        """Make a new secret (printed once); the old one stays valid for the grace period."""
        with open_store(obj.root, database_url) as store:
            snapshot = store.snapshot(environment)
            resource = snapshot.resources.get(f"{kind}.{name}")
            if resource is None:
                raise StateError(f"no applied {kind}.{name} in '{environment}'")
            kinds = [_SECRET_KINDS[g] for g in resource.generated if g in _SECRET_KINDS]
            if not kinds:
                raise StateError(f"{kind}.{name} has no generated secret to rotate; its secret "
                                 "comes from ${env:…}: change the variable and apply")
            if which is not None and which not in kinds:
                raise StateError(f"{kind}.{name} has no generated {which}; it has "
                                 + ", ".join(kinds))
            secret = store.rotate_secret(environment, kind, name,
                                         _SECRET_KINDS[which] if which else kinds[0],
                                         grace_hours=grace_hours)
        click.echo(secret)
        click.echo(f"New secret shown once; the old one stays valid for {grace_hours:g} hours.",
                   err=True)
        return 0

    if kind == "triggers":
        from hookplane.cli.deliveries import add_commands

        add_commands(group)

    if kind == "inbound_webhooks":
        from hookplane.cli.simulate import add_command

        add_command(group)

        @group.command("deliveries")
        @click.argument("environment")
        @click.argument("name")
        @click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
        @click.option("--json", "as_json", is_flag=True)
        @page_options
        @database_url_option
        @click.pass_obj
        def deliveries_command(obj: Context, environment: str, name: str, *, limit: int,
                               as_json: bool, cursor: str | None, all_pages: bool,
                               database_url: str | None) -> int:
            """The inbound delivery log (accepted and rejected), newest first, with the
            outcome of each hydration or invoke job it queued (NAME, or its id)."""
            from hookplane.runtime.admin import inbound_log_rows

            with open_store(obj.root, database_url) as store:
                name = resource_name(store, environment, kind, name)
                resource = store.snapshot(environment).resources.get(f"{kind}.{name}")
                if resource is None:
                    raise StateError(f"no applied {kind}.{name} in '{environment}'")
                runtime = RuntimeStore(store)
                return emit_pages(
                    lambda after: inbound_log_rows(runtime, environment, resource.id,
                                                   limit=limit, cursor=after),
                    cursor=cursor, all_pages=all_pages, as_json=as_json,
                    line=_inbound_line, empty=f"No deliveries for {name} yet.")

    if kind in ("inbound_webhooks", "api_keys"):
        @group.command("reveal")
        @click.argument("environment")
        @click.argument("name")
        @database_url_option
        @click.pass_obj
        def reveal_command(obj: Context, environment: str, name: str,
                           database_url: str | None) -> int:
            """Print a bearer token or API key: once, then only its prefix remains."""
            with open_store(obj.root, database_url) as store:
                token = store.reveal_token(environment, kind, name)
            click.echo(token)
            click.echo("This token is shown once; store it now.", err=True)
            return 0

    return group


def _describe(store: Any, environment: str, kind: str, name: str,
              snapshot: Any = None) -> dict[str, Any]:
    """One resource's row; ``snapshot`` when the caller has it (a list reads it once, not
    once per row: that made ``triggers list`` quadratic)."""
    snapshot = snapshot if snapshot is not None else store.snapshot(environment)
    resource = snapshot.resources.get(f"{kind}.{name}")
    if resource is None:
        raise StateError(f"no applied {kind}.{name} in '{environment}' (apply it first?)")
    row: dict[str, Any] = {
        "name": resource.name,
        "id": resource.id,
        "address": resource.address,
        "is_active": resource.spec.get("active", True),
        "created_at": resource.created_at,
        "updated_at": resource.updated_at,
        "generated": list(resource.generated),
    }
    if kind == "inbound_webhooks":
        path = f"/inbound/{environment}/{resource.id}/ingest"
        base = os.environ.get("HOOKPLANE_PUBLIC_URL", "").rstrip("/")
        row["ingest_url"] = base + path if base else path
        row["auth_type"] = (resource.spec.get("auth") or {}).get("type")
        row["last_used_at"] = RuntimeStore(store).last_used_at(environment, resource.id)
    if "collection" in resource.spec:
        row["collection"] = resource.spec.get("collection")
    infos = store.secret_info(environment, kind, name)
    row["has_secret"] = bool(infos) or bool(resource.fingerprints)
    prefixes = [i.display_prefix for i in infos
                if i.kind == "token" and i.display_prefix and i.status == "current"]
    if prefixes:
        row["token_prefix"] = prefixes[0]
    return row


@click.group("records", help="Read records stored by the runtime.")
def records_group() -> None:
    pass


@records_group.command("list")
@click.argument("environment")
@click.argument("collection")
@click.option("--where", "where", multiple=True, metavar="FIELD=VALUE",
              help="Field equality filter (repeatable).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500),
              help="Records per page.")
@click.option("--json", "as_json", is_flag=True)
@page_options
@database_url_option
@click.pass_obj
def records_list(obj: Context, environment: str, collection: str, *, where: tuple[str, ...],
                 limit: int, as_json: bool, cursor: str | None, all_pages: bool,
                 database_url: str | None) -> int:
    """List records of COLLECTION, newest first, a page at a time (--cursor, --all)."""
    equals: dict[str, Any] = {}
    for item in where:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise click.BadParameter(f"'{item}' is not FIELD=VALUE", param_hint="--where")
        equals[field] = value
    with open_store(obj.root, database_url) as store:
        runtime = RuntimeStore(store)

        def fetch(after: str | None) -> Page:
            records, following = runtime.list(environment, collection, equals=equals,
                                              limit=limit, cursor=after)
            return [dataclasses.asdict(r) for r in records], following

        return emit_pages(fetch, cursor=cursor, all_pages=all_pages, as_json=as_json,
                          line=lambda row: f"{row['id']}  {row['updated_at']}  "
                                           f"{row['origin']:<15} "
                                           f"{json.dumps(row['data'])[:100]}",
                          empty=f"No records in {collection}.")


@records_group.command("get")
@click.argument("environment")
@click.argument("collection")
@click.argument("record_id")
@database_url_option
@click.pass_obj
def records_get(obj: Context, environment: str, collection: str, record_id: str,
                database_url: str | None) -> int:
    """Show one record as JSON."""
    with open_store(obj.root, database_url) as store:
        record = RuntimeStore(store).get(environment, collection, record_id,
                                         include_deleted=True)
    if record is None:
        raise StateError(f"no record '{record_id}' in {environment}/{collection}")
    click.echo(json.dumps(dataclasses.asdict(record), indent=2, default=str))
    return 0


def register(group: click.Group) -> None:
    from hookplane.cli import authoring

    group.add_command(records_group)
    group.add_command(authoring.register(_group("triggers", "triggers"), "triggers"))
    group.add_command(authoring.register(_group("inbound_webhooks", "inbound webhooks"),
                                         "inbound_webhooks"))
    group.add_command(authoring.register(_group("api_keys", "API keys"), "api_keys"))


def _inbound_line(row: dict[str, Any]) -> str:
    extra = f" record {row['record_id']}" if row.get("record_id") else ""
    line = (f"{row['received_at']}  {row['status_code']}  {row['reason']:<16} "
            f"{row.get('client_ip') or '-':<15} {row.get('latency_ms') or 0:>6} ms{extra}")
    job = row.get("job")
    return line + (f"\n    {_job_line(job)}" if job is not None else "")


def _job_line(job: dict[str, Any]) -> str:
    """``job job_… hydrate done (attempt 1 of 5)`` and, when it failed or waits, why."""
    line = (f"job {job['id']} {job['kind']} {job['status']} "
            f"(attempt {job['attempts']} of {job['max_attempts']})")
    if job["status"] == "pending" and job.get("next_attempt_at"):
        line += f", next attempt at {job['next_attempt_at']}"
    if job["status"] == "done" and isinstance(job.get("result"), dict):
        record_id = job["result"].get("record_id")
        if record_id:
            line += f": record {record_id}"
    if job.get("last_error") and job["status"] != "done":
        line += f": {job['last_error']}"
    return line
