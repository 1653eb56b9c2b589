"""``hookplane validate [ENV]``."""

from __future__ import annotations

import json

import click

from hookplane.cli.main import Context
from hookplane.config import list_environments, load_all, load_environment
from hookplane.config.advice import config_warnings
from hookplane.config.loader import promotion_problems
from hookplane.errors import ConfigError


@click.command("validate")
@click.argument("environment", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@click.pass_obj
def validate(obj: Context, environment: str | None, as_json: bool) -> int:
    """Check the YAML of ENVIRONMENT (default: every environment)."""
    try:
        if environment is None:
            configs = load_all(obj.root)
        else:
            config = load_environment(obj.root, environment)
            # the same promotes_to check as for every environment (load_all does it there)
            problems = promotion_problems(config, list_environments(obj.root))
            if problems:
                raise ConfigError(problems)
            configs = {environment: config}
    except ConfigError as exc:
        if not as_json:
            raise
        click.echo(json.dumps({"valid": False,
                               "errors": [d.as_dict() for d in exc.diagnostics]}, indent=2))
        return 1
    warnings = [w for config in configs.values() for w in config_warnings(config)]
    if as_json:
        click.echo(json.dumps({
            "valid": True,
            "environments": {
                name: {"resources": sum(1 for _ in c.all_resources())}
                for name, c in configs.items()
            },
            "errors": [],
            "warnings": [w.as_dict() for w in warnings],
        }, indent=2))
        return 0
    for warning in warnings:  # valid, but cannot work as written: said, never fatal
        click.echo(f"{obj.style('Warning:', fg='yellow')} {warning.format()}", err=True)
    for name, config in configs.items():
        count = sum(1 for _ in config.all_resources())
        click.echo(f"{obj.style('✓', fg='green')} {name}: {count} resource"
                   f"{'s' if count != 1 else ''} valid")
    return 0


def register(group: click.Group) -> None:
    group.add_command(validate)
