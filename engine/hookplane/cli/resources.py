"""``hookplane triggers|inbound-webhooks|api-keys list|get|reveal``: read the applied state."""

from __future__ import annotations

import json
from typing import Any

import click

from hookplane.cli.common import database_url_option, open_store
from hookplane.cli.main import Context
from hookplane.config.applied import SecretKind
from hookplane.errors import StateError

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
            rows = [_describe(store, environment, r.kind, r.name)
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
                  help="Print the signing secret (triggers, HMAC-style inbound webhooks).")
    @click.option("--json", "as_json", is_flag=True)
    @database_url_option
    @click.pass_obj
    def get_command(obj: Context, environment: str, name: str, *, show_secret: bool,
                    as_json: bool, database_url: str | None) -> int:
        """Show one applied resource."""
        with open_store(obj.root, database_url) as store:
            row = _describe(store, environment, kind, name)
            if show_secret:
                secret_kind = _SECRET_FOR.get(kind)
                if secret_kind is None or secret_kind not in row["generated"]:
                    raise StateError(
                        f"{kind}.{name} has no readable secret"
                        + ("; tokens are shown once with 'reveal'" if kind != "triggers" else "")
                    )
                row["secret"] = store.read_secret(environment, kind, name, secret_kind)
        if as_json:
            click.echo(json.dumps(row, indent=2))
            return 0
        for key, value in row.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            click.echo(f"{key}: {shown}")
        return 0

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


def _describe(store: Any, environment: str, kind: str, name: str) -> dict[str, Any]:
    snapshot = store.snapshot(environment)
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
        row["ingest_path"] = f"/inbound/{environment}/{resource.id}/ingest"
        row["auth_type"] = (resource.spec.get("auth") or {}).get("type")
    if "collection" in resource.spec:
        row["collection"] = resource.spec.get("collection")
    infos = store.secret_info(environment, kind, name)
    row["has_secret"] = bool(infos) or bool(resource.fingerprints)
    prefixes = [i.display_prefix for i in infos
                if i.kind == "token" and i.display_prefix and i.status == "current"]
    if prefixes:
        row["token_prefix"] = prefixes[0]
    return row


def register(group: click.Group) -> None:
    group.add_command(_group("triggers", "triggers"))
    group.add_command(_group("inbound_webhooks", "inbound webhooks"))
    group.add_command(_group("api_keys", "API keys"))
