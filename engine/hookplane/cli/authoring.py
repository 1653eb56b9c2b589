"""``hookplane triggers|inbound-webhooks|api-keys create|delete ENV NAME``: write the YAML.

The commands live in the same groups as ``list``/``get``/``rotate-secret``
(:mod:`hookplane.cli.resources` registers them). They edit ``environments/ENV`` and print
the change and the next step; they never open the state database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hookplane import authoring
from hookplane.cli.main import Context
from hookplane.yamledit import unified_diff


def _common(function: Callable[..., Any]) -> Callable[..., Any]:
    for decorator in reversed((
        click.argument("environment"),
        click.argument("name"),
        click.option("--description", metavar="TEXT", help="What this resource is for."),
        click.option("--file", "file", metavar="FILE",
                     help="The file to add it to, in the environment's directory (default: "
                          "the file that already holds this kind, else KIND.yaml)."),
        click.option("--dry-run", is_flag=True, help="Show the change; write nothing."),
    )):
        function = decorator(function)
    return function


def _secret_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--secret-env", metavar="NAME",
                            help="Write secret: ${env:NAME} (read where apply runs) instead of "
                                 "having apply generate the secret.")(function)
    return click.option("--secret", "secret", hidden=True, default=None)(function)


def _show(obj: Context, edit: authoring.Edit, dry_run: bool) -> int:
    for line in unified_diff(edit.change):
        color = "green" if line.startswith("+") else "red" if line.startswith("-") else None
        click.echo(obj.style(line, fg=color))
    click.echo("")
    for note in edit.notes:
        click.echo(f"Note: {note}.")
    where = "to" if edit.action == "create" else "from"
    if dry_run:
        verb = "add" if edit.action == "create" else "remove"
        click.echo(f"Dry run: nothing written. Without --dry-run this would {verb} "
                   f"{edit.address} {where} {edit.file}.")
        return 0
    authoring.write(obj.root, edit)
    done = "Added" if edit.action == "create" else "Removed"
    click.echo(f"{done} {edit.address} {where} {edit.file}.")
    click.echo(f"Next: review the change, commit it, then run 'hookplane plan "
               f"{edit.environment}'.")
    return 0


@click.command("create")
@click.option("--collection", metavar="COLLECTION", help="The collection whose records it watches.")
@click.option("--url", metavar="URL", help="Where deliveries are sent (${env:NAME} allowed).")
@click.option("--external-write", metavar="SOURCE",
              help="Send the mapped record to SOURCE's write endpoint instead of --url.")
@click.option("--events", required=True, metavar="EVENTS",
              help="create,update,delete (or '[\"create\",\"update\"]'); also config.applied, "
                   "config.promoted, delivery.failed, trigger.disabled.")
@click.option("--filter", "filters", multiple=True, metavar="FIELD=VALUE",
              help="Fire only for matching records (repeatable); VALUE is read as JSON when it "
                   "parses (3, true, [\"p1\",\"p2\"], {\"gte\":2}), else as text.")
@click.option("--body-template", metavar="JSON|TEXT",
              help="The request body: JSON (e.g. '{\"text\":\"P1: {{record.title}}\"}') or text.")
@click.option("--retry", metavar="none|JSON",
              help="'none' (the default) or a policy: '{\"attempts\":5,\"backoff\":"
                   "\"exponential\"}'.")
@click.option("--header", "headers", multiple=True, metavar="NAME=VALUE",
              help="A request header (repeatable); secrets as ${env:NAME}.")
@_secret_options
@_common
@click.pass_obj
def trigger_create(obj: Context, /, environment: str, name: str, *, file: str | None,
                   dry_run: bool, secret: str | None, **options: Any) -> int:
    """Add trigger NAME to ENVIRONMENT's YAML (review, commit, then plan)."""
    edit = authoring.create(
        obj.root, environment, name,
        authoring.TriggerOptions(secret_given=secret is not None, **options), file=file)
    return _show(obj, edit, dry_run)


@click.command("create")
@click.option("--collection", "--collection-scope", "collection", metavar="COLLECTION",
              help="The collection deliveries are stored in.")
@click.option("--auth", metavar="TYPE",
              help="hmac (default), static_header, bearer, standard_webhooks, or a provider "
                   "preset (github, stripe, slack, …: docs/reference/providers.md).")
@click.option("--ingest-auth", metavar="JSON",
              help="The whole auth block: '{\"type\":\"static_header\",\"header\":"
                   "\"X-Account-Key\"}'.")
@click.option("--header", metavar="HEADER",
              help="The header holding the signature or key (hmac, static_header).")
@click.option("--source-binding", metavar="COLLECTION/SOURCE|JSON",
              help="Reuse a source's mapping: incidents/pagerduty or "
                   "'{\"collection\":\"incidents\",\"source\":\"pagerduty\"}'.")
@click.option("--field-mapping", metavar="JSON",
              help="An inline mapping: '{\"to_external\":{\"status\":\"state\"}}'.")
@click.option("--hydration", metavar="JSON",
              help="Fetch the full record by id: '{\"id_path\":\"record_id\",\"merge\":true}'.")
@click.option("--ip-allow", "ip_allow", multiple=True, metavar="CIDR",
              help="Accept only these addresses or ranges (repeatable).")
@click.option("--rate-limit", metavar="N/SECONDS",
              help="Requests per client IP, e.g. 30/60 (the default).")
@click.option("--action-create", metavar="JSON",
              help="Create a record from templates: '{\"collection\":\"tasks\",\"fields\":{…}}'.")
@click.option("--action-invoke", metavar="JSON",
              help="POST a templated input to a URL: '{\"url\":\"https://…\",\"input\":{…}}'.")
@_secret_options
@_common
@click.pass_obj
def inbound_webhook_create(obj: Context, /, environment: str, name: str, *, file: str | None,
                           dry_run: bool, secret: str | None, **options: Any) -> int:
    """Add inbound webhook NAME to ENVIRONMENT's YAML (review, commit, then plan)."""
    edit = authoring.create(
        obj.root, environment, name,
        authoring.InboundWebhookOptions(secret_given=secret is not None, **options), file=file)
    return _show(obj, edit, dry_run)


@click.command("create")
@click.option("--scopes", required=True, metavar="SCOPES",
              help="read, write, read:COLLECTION, write:COLLECTION, comma-separated.")
@_common
@click.pass_obj
def api_key_create(obj: Context, /, environment: str, name: str, *, file: str | None,
                   dry_run: bool, **options: Any) -> int:
    """Add API key NAME to ENVIRONMENT's YAML; its token is generated at apply."""
    edit = authoring.create(obj.root, environment, name, authoring.ApiKeyOptions(**options),
                            file=file)
    return _show(obj, edit, dry_run)


def _delete_command(kind: str, title: str) -> click.Command:
    @click.command("delete")
    @click.argument("environment")
    @click.argument("name")
    @click.option("--dry-run", is_flag=True, help="Show the change; write nothing.")
    @click.pass_obj
    def delete(obj: Context, environment: str, name: str, dry_run: bool) -> int:
        edit = authoring.delete(obj.root, environment, kind, name)
        return _show(obj, edit, dry_run)

    delete.help = (f"Remove {title} NAME from ENVIRONMENT's YAML, from whichever file declares "
                   "it (review, commit, then plan: the plan destroys it).")
    return delete


_CREATE = {"triggers": trigger_create, "inbound_webhooks": inbound_webhook_create,
           "api_keys": api_key_create}
_TITLE = {"triggers": "trigger", "inbound_webhooks": "inbound webhook", "api_keys": "API key"}


def register(group: click.Group, kind: str) -> click.Group:
    """Add ``create`` and ``delete`` to a resource group of :mod:`hookplane.cli.resources`."""
    group.add_command(_CREATE[kind])
    group.add_command(_delete_command(kind, _TITLE[kind]))
    group.help = f"{group.help} Create or delete them in the YAML."
    return group
