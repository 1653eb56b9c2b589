"""Shared plumbing for commands: the store, the actor, the git commit, the promotion source."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hookplane.config import Config, list_environments, load_environment
from hookplane.config.loader import ENVIRONMENT_FILE, environments_root
from hookplane.config.yamlio import parse
from hookplane.errors import ConfigError, PlanError
from hookplane.state.store import Store, current_actor

DATABASE_URL_HELP = (
    "State database (default: SQLite at ROOT/.hookplane/state.db; "
    "env HOOKPLANE_DATABASE_URL). PostgreSQL: postgresql://user:pass@host/db"
)

database_url_option = click.option(
    "--database-url", envvar="HOOKPLANE_DATABASE_URL", default=None, metavar="URL",
    help=DATABASE_URL_HELP,
)


def open_store(root: Path, url: str | None) -> Store:
    return Store.open(url, root=root)


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def actor() -> str:
    """Who is running this (the audit log's actor): see :func:`current_actor`."""
    return current_actor()


def git_commit(root: Path) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def promotion_source(root: Path, config: Config) -> Config | None:
    """The preview environment that promotes into ``config`` (production only).

    A preview that declares ``promotes_to`` this environment but does not load is an error
    saying so (production's rules compare against it); other invalid environments are
    reported by their own ``validate``."""
    if config.environment.kind != "production":
        return None
    for name in list_environments(root):
        if name == config.name:
            continue
        try:
            candidate = load_environment(root, name)
        except ConfigError as exc:
            if _declared_promotes_to(root, name) == config.name:
                shown = exc.diagnostics[:5]
                more = len(exc.diagnostics) - len(shown)
                raise PlanError(
                    f"environments/{name} promotes to '{config.name}' and is invalid, so "
                    f"'{config.name}' cannot be checked against it; fix it first "
                    f"(hookplane validate {name}):\n"
                    + "\n".join(f"  {d.format()}" for d in shown)
                    + (f"\n  … and {more} more" if more else "")) from exc
            continue
        except Exception:  # unreadable for another reason: its own validate says why
            continue
        if candidate.environment.promotes_to == config.name:
            return candidate
    return None


def _declared_promotes_to(root: Path, name: str) -> str | None:
    """``promotes_to`` as written in an environment's environment.yaml (None if unreadable)."""
    try:
        data = parse((environments_root(root) / name / ENVIRONMENT_FILE).read_text(
            encoding="utf-8"))
    except Exception:  # missing or unreadable: it declares nothing usable
        return None
    value = data.get("promotes_to") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


PROGRESS_THRESHOLD = 200
"""Fewer changes than this finish too fast for a progress bar to help."""


@contextlib.contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long operations: only on a terminal, never in CI."""
    interactive = sys.stderr.isatty() and not os.environ.get("CI")
    if not interactive or total < PROGRESS_THRESHOLD:
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True) as bar:
        shown = 0

        def report(done: int, _total: int) -> None:
            nonlocal shown
            bar.update(done - shown)
            shown = done

        yield report


def resource_name(store: Store, environment: str, kind: str, name_or_id: str) -> str:
    """The name of the applied ``kind`` resource called ``name_or_id``, or whose id it is
    (``trg_…``, ``iw_…``: what the console, the admin API and delivery logs show). A name
    wins over an id when both would match. Unknown: returned unchanged (the command then
    says it is not applied)."""
    snapshot = store.snapshot(environment)
    if f"{kind}.{name_or_id}" in snapshot.resources:
        return name_or_id
    for resource in snapshot.resources.values():
        if resource.kind == kind and resource.id == name_or_id:
            return resource.name
    return name_or_id


Page = tuple[list[dict[str, Any]], str | None]
"""Rows of one page and the cursor of the next (None on the last)."""


def page_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--cursor`` and ``--all`` for a listing command."""
    command = click.option(
        "--all", "all_pages", is_flag=True,
        help="Every page, streamed as JSON lines (one object per line).")(command)
    return click.option(
        "--cursor", default=None, metavar="CURSOR",
        help="Continue after a previous page (the 'more:' cursor it printed).")(command)


def emit_pages(fetch: Callable[[str | None], Page], *, cursor: str | None, all_pages: bool,
               as_json: bool, line: Callable[[dict[str, Any]], str], empty: str) -> int:
    """Print one page (JSON or ``line`` per row, then ``more: --cursor …`` on stderr when
    there is a next page), or with ``all_pages`` every page as JSON lines."""
    if all_pages:
        while True:
            rows, cursor = fetch(cursor)
            for row in rows:
                click.echo(json.dumps(row, default=str, separators=(",", ":")))
            if cursor is None:
                return 0
    rows, following = fetch(cursor)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        if not rows:
            click.echo(empty)
        for row in rows:
            click.echo(line(row))
    if following is not None:
        click.echo(f"more: --cursor {following}", err=True)
    return 0
