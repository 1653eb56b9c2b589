"""``hookplane init [DIR]``: scaffold a project with a preview and a production environment."""

from __future__ import annotations

from pathlib import Path

import click

from hookplane.cli.main import Context
from hookplane.config.schema import json_schema_text

_SCHEMA_COMMENT = "# yaml-language-server: $schema=../../schema/hookplane.schema.json\n"

_FILES: dict[str, str] = {
    "environments/preview/environment.yaml": _SCHEMA_COMMENT + """\
# Resources are created and deleted in preview, then promoted to production with
#   hookplane promote preview production
name: preview
kind: preview
promotes_to: production
""",
    "environments/production/environment.yaml": _SCHEMA_COMMENT + """\
# Production changes only by promotion (and in-place updates); secrets are its own.
name: production
kind: production
""",
    "environments/preview/hookplane.yaml": _SCHEMA_COMMENT + """\
# Sections may be split across any number of files in this folder.
collections:
  incidents:
    schema:
      type: object
      required: [title, severity]
      properties:
        title: {type: string}
        severity: {type: string, enum: [p1, p2, p3]}
        status: {type: string}

triggers:
  # An outbound webhook: fires after a record is created or updated. The signing secret
  # is generated at apply; read it with 'hookplane triggers get preview notify-p1 --show-secret'.
  notify-p1:
    collection: incidents
    events: [create, update]
    url: https://hooks.example.com/incidents   # or "${env:SLACK_WEBHOOK_URL}"
    filter: {severity: p1}
    body: {text: "P1: {{record.title}}"}

inbound_webhooks:
  # An ingest URL: POST JSON signed with HMAC-SHA256 of the body (hex, header X-Signature).
  alerts:
    collection: incidents
    auth: {type: hmac, header: X-Signature, encoding: hex}
    mapping:
      # upstream 'summary' arrives as native 'title', 'level' as 'severity'
      to_external: {title: summary, severity: level}

api_keys:
  # A key for the records API; its token is shown once after apply.
  ci-bot: {scopes: [write]}
""",
    ".gitignore": ".hookplane/\n",
    "schema/hookplane.schema.json": "",
}


@click.command("init")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_obj
def init(obj: Context, directory: Path | None) -> int:
    """Scaffold environments/preview and environments/production in DIRECTORY."""
    target = directory if directory is not None else obj.root
    existing = [name for name in _FILES if (target / name).exists() and name != ".gitignore"]
    if existing:
        raise click.ClickException(
            f"{target / existing[0]} already exists; 'hookplane init' never overwrites files"
        )
    for name, text in _FILES.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == ".gitignore" and path.exists():
            current = path.read_text(encoding="utf-8")
            if ".hookplane/" not in current.splitlines():
                path.write_text(current.rstrip("\n") + "\n.hookplane/\n", encoding="utf-8")
            continue
        path.write_text(text or json_schema_text(), encoding="utf-8")
        click.echo(f"created {path}")
    click.echo("\nNext: edit environments/preview/*.yaml, then run 'hookplane validate' and "
               "'hookplane plan preview'.")
    return 0


def register(group: click.Group) -> None:
    group.add_command(init)
