"""``hookplane events ENV``: the event catalogue (event types and their body schemas)."""

from __future__ import annotations

import json

import click

from hookplane.catalogue import event_catalogue
from hookplane.cli.main import Context
from hookplane.config import load_environment
from hookplane.errors import HookplaneError


@click.command("events")
@click.argument("environment")
@click.option("--json", "as_json", is_flag=True,
              help="The whole catalogue, with the JSON Schema of each body.")
@click.option("--event", "only", default=None, metavar="NAME",
              help="Only this event (e.g. escalation.resolved).")
@click.pass_obj
def events(obj: Context, environment: str, as_json: bool, only: str | None) -> int:
    """List the events ENVIRONMENT's triggers can send: each collection's record and named
    events, then the system events, with the triggers subscribed to each and the JSON Schema
    of the body their receivers get (generated from the collection schema and the body
    template), so receivers can generate types."""
    catalogue = event_catalogue(load_environment(obj.root, environment))
    if only is not None:
        catalogue = [e for e in catalogue if e.name == only]
        if not catalogue:
            raise HookplaneError(f"no event '{only}' in '{environment}' (hookplane "
                                       f"events {environment} lists them)")
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in catalogue], indent=2, ensure_ascii=False))
        return 0
    for event in catalogue:
        where = f"{event.collection}  " if event.collection else "(system)  "
        click.echo(f"{event.name:<28} {where}{event.description}")
        for subscriber in event.subscribers:
            click.echo(f"    -> {subscriber.trigger} ({subscriber.content_type})")
    return 0


def register(group: click.Group) -> None:
    group.add_command(events)
