"""``hookplane schema``: write the JSON Schema generated from the models."""

from __future__ import annotations

from pathlib import Path

import click

from hookplane.cli.main import Context
from hookplane.config.schema import json_schema_text

SCHEMA_PATH = Path("schema") / "hookplane.schema.json"


@click.command("schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Where to write (default: ROOT/{SCHEMA_PATH}); '-' for stdout.")
@click.option("--check", is_flag=True, help="Exit 1 if the file on disk is out of date.")
@click.pass_obj
def schema(obj: Context, output: Path | None, check: bool) -> int:
    """Write the JSON Schema of Hookplane's YAML files (for editors and CI)."""
    text = json_schema_text()
    if output is not None and str(output) == "-":
        click.echo(text, nl=False)
        return 0
    target = output or obj.root / SCHEMA_PATH
    if check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            click.echo(f"{target} is out of date; run 'hookplane schema'", err=True)
            return 1
        click.echo(f"{target} is up to date")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {target}")
    return 0


def register(group: click.Group) -> None:
    group.add_command(schema)
