"""Rules that refuse a plan: environment rules (production) and ``protect: true``."""

from __future__ import annotations

from collections.abc import Sequence

from hookplane.config.loader import Config
from hookplane.plan.model import Action, Change

PROMOTED_ONLY = ("triggers", "inbound_webhooks")
"""Kinds that a production environment may create or destroy only through promotion."""

_SINGULAR = {
    "collections": "collection", "sources": "source", "triggers": "trigger",
    "inbound_webhooks": "inbound webhook", "api_keys": "API key",
}


def env_dir(config: Config) -> str:
    """``environments/NAME`` as the user sees it."""
    return config.environment_file.rpartition("/")[0] or config.directory.name


def singular(kind: str) -> str:
    return _SINGULAR.get(kind, kind)


def _where(config: Config, kind: str, name: str) -> str:
    resource = config.get(kind, name)
    if resource is None:
        return env_dir(config)
    line, column = config.position(resource.file, (kind, name), key=True)
    return f"{resource.file}:{line}:{column}"


def protect_problems(config: Config, changes: Sequence[Change]) -> list[str]:
    problems = []
    for change in changes:
        if change.action not in (Action.DELETE, Action.REPLACE):
            continue
        if not (change.before or {}).get("protect"):
            continue
        verb = "destroyed" if change.action is Action.DELETE else "replaced"
        where = _where(config, change.kind, change.name)
        problems.append(
            f"{where}: {change.address} has protect: true and cannot be {verb}; set "
            "protect: false and apply that first if you really mean it"
        )
    return problems


def environment_rule_problems(config: Config, changes: Sequence[Change],
                              source: Config | None) -> list[str]:
    """In production, creates and destroys of triggers/inbound webhooks come from preview."""
    if config.environment.kind != "production":
        return []
    env = config.name
    problems = []
    for change in changes:
        if change.kind not in PROMOTED_ONLY:
            continue
        what = f"{singular(change.kind)} '{change.name}'"
        if source is None:
            preview = "a preview environment (none declares promotes_to: " + env + ")"
            promote = f"'hookplane promote PREVIEW {env}'"
        else:
            preview = f"environments/{source.name}"
            promote = f"'hookplane promote {source.name} {env}'"
        creating = change.action is Action.CREATE or (
            change.moved_from is not None and change.action is not Action.DELETE
        )
        if creating and (source is None or source.get(change.kind, change.name) is None):
            problems.append(
                f"{_where(config, change.kind, change.name)}: {what} cannot be created in "
                f"production environment '{env}': {preview} does not declare it. Create it in "
                f"{preview} and run {promote}"
            )
        if change.action is Action.DELETE or change.moved_from is not None:
            old = change.moved_from.partition(".")[2] if change.moved_from else change.name
            if source is None or source.get(change.kind, old) is not None:
                problems.append(
                    f"{env_dir(config)}: {singular(change.kind)} '{old}' cannot be "
                    f"destroyed in production environment '{env}' while {preview} still "
                    f"declares it. Delete it in {preview} and run {promote}"
                )
    return problems
