"""``hookplane plan``, ``apply``, ``history``, ``force-unlock``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hookplane.apply import ApplyResult, apply, config_file_digests, read_saved_plan, save_plan
from hookplane.cli.common import (
    actor,
    database_url_option,
    git_commit,
    now,
    open_store,
    progress_bar,
    promotion_source,
)
from hookplane.cli.main import EXIT_CHANGES, Context
from hookplane.config import load_environment
from hookplane.errors import PlanError
from hookplane.plan import Plan, diff, render_json, render_markdown, render_text
from hookplane.state.store import Store


def make_plan(obj: Context, store: Store, environment: str) -> Plan:
    # The files are hashed before they are loaded: a file changed in between makes the saved
    # plan refused at apply, never a plan that does not match its record.
    files = config_file_digests(obj.root, environment)
    config = load_environment(obj.root, environment)
    invalid: PlanError | None = None
    try:
        source = promotion_source(obj.root, config)
    except PlanError as exc:  # preview is invalid: only matters if a rule needs it
        source, invalid = None, exc
    try:
        return diff(config, store.snapshot(environment), environ=os.environ,
                    fingerprint=store.fingerprint, promotion_source=source, now=now(),
                    config_files=files)
    except PlanError as exc:
        if invalid is not None:  # say why there is no preview to compare with
            raise invalid from exc
        raise


@click.command("plan")
@click.argument("environment")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as versioned JSON.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]),
              default=None, help="Output format (markdown: a pull-request comment body).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Save the plan for 'hookplane apply ENV FILE' (holds no secret values).")
@click.option("--full-plan-url", default=None, metavar="URL",
              help="With --format markdown: where the full plan is (linked when truncated).")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when there are no changes, 2 when there are, 1 on error.")
@database_url_option
@click.pass_obj
def plan_command(obj: Context, environment: str, *, as_json: bool, output_format: str | None,
                 out: Path | None, full_plan_url: str | None, detailed_exitcode: bool,
                 database_url: str | None) -> int:
    """Show what apply would change in ENVIRONMENT."""
    with open_store(obj.root, database_url) as store:
        plan = make_plan(obj, store, environment)
        saved = save_plan(plan, store) if out is not None else None
    fmt = "json" if as_json else output_format or "text"
    if fmt == "json":
        click.echo(render_json(plan), nl=False)
    elif fmt == "markdown":
        click.echo(render_markdown(plan, full_plan_url=full_plan_url), nl=False)
    else:
        click.echo(render_text(plan, style=obj.style), nl=False)
    if out is not None and saved is not None:
        out.write_text(saved, encoding="utf-8")
        if fmt == "text":
            click.echo(f"\nSaved the plan to: {out}\nTo perform exactly these actions, run:\n"
                       f"    hookplane apply {environment} {out}")
    if detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return 0


def _next_steps(result: ApplyResult, plan: Plan) -> list[str]:
    lines: list[str] = []
    env = result.environment
    for change in plan.changes:
        if change.address not in result.ids:
            continue
        if change.kind == "inbound_webhooks":
            ingest = f"/inbound/{env}/{result.ids[change.address]}/ingest"
            lines.append(f"  {change.address}: ingest URL {ingest}")
    if lines:
        lines.insert(0, "Ingest URLs (on the host running 'hookplane serve'):")
    secrets: list[str] = []
    for address, kinds in result.generated.items():
        kind, _, name = address.partition(".")
        group = kind.replace("_", "-")
        for secret in kinds:
            if secret == "token":
                secrets.append(f"  {address}: token shown once: hookplane {group} reveal {env} "
                               f"{name}")
            else:
                secrets.append(f"  {address}: hookplane {group} get {env} {name} --show-secret")
    if secrets:
        lines += ["New secrets (never printed here; read them with):", *secrets]
    return lines


@click.command("apply")
@click.argument("environment")
@click.argument("planfile", required=False,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@database_url_option
@click.pass_obj
def apply_command(obj: Context, environment: str, planfile: Path | None, auto_approve: bool,
                  database_url: str | None) -> int:
    """Apply the YAML of ENVIRONMENT (or a saved PLANFILE) to the state, atomically."""
    with open_store(obj.root, database_url) as store:
        if planfile is not None:
            plan = read_saved_plan(planfile.read_bytes().decode("utf-8", "replace"), store,
                                   root=obj.root,
                                   environment=environment, source=str(planfile))
        else:
            plan = make_plan(obj, store, environment)
            click.echo(render_text(plan, style=obj.style), nl=False)
            if not plan.has_changes:
                return 0
            if not auto_approve:
                if not sys.stdin.isatty():
                    raise PlanError(
                        "apply needs confirmation but there is no terminal to ask on; pass "
                        "--auto-approve, or save a plan with 'hookplane plan "
                        f"{environment} --out FILE' and run 'hookplane apply {environment} FILE'"
                    )
                click.echo("\nDo you want to perform these actions?\n"
                           "  Only 'yes' will be accepted to approve.\n")
                answer = click.prompt("  Enter a value", default="", show_default=False)
                if answer.strip() != "yes":
                    click.echo("\nApply cancelled.")
                    return 1
        if not plan.has_changes:
            click.echo(f"No changes. Environment '{environment}' matches the configuration.")
            return 0
        with progress_bar(len(plan.changes), "Applying") as report:
            result = apply(plan, store, environ=os.environ, actor=actor(),
                           git_commit=git_commit(obj.root), progress=report)
    click.echo("")
    click.echo(obj.style(
        f"Apply complete! Resources: {result.added} added, {result.changed} changed, "
        f"{result.replaced} replaced, {result.destroyed} destroyed.", fg="green", bold=True))
    steps = _next_steps(result, plan)
    if steps:
        click.echo("")
        for line in steps:
            click.echo(line)
    return 0


@click.command("history")
@click.argument("environment")
@database_url_option
@click.pass_obj
def history_command(obj: Context, environment: str, database_url: str | None) -> int:
    """List the audit log of ENVIRONMENT, newest first."""
    with open_store(obj.root, database_url) as store:
        entries = store.history(environment)
    if not entries:
        click.echo(f"No history for '{environment}' yet.")
        return 0
    for entry in entries:
        commit = f" commit {entry.git_commit[:12]}" if entry.git_commit else ""
        details = ", ".join(f"{k}={v}" for k, v in sorted(entry.details.items())
                            if k != "config_digest")
        click.echo(f"#{entry.id} {entry.at} serial {entry.serial} {entry.action} by "
                   f"{entry.actor}{commit}" + (f" ({details})" if details else ""))
    return 0


@click.command("force-unlock")
@click.argument("environment")
@click.argument("lock_id")
@database_url_option
@click.pass_obj
def force_unlock_command(obj: Context, environment: str, lock_id: str,
                         database_url: str | None) -> int:
    """Release ENVIRONMENT's state lock LOCK_ID left by an interrupted run."""
    with open_store(obj.root, database_url) as store:
        store.force_unlock(environment, lock_id)
    click.echo(f"Hookplane state for '{environment}' has been successfully unlocked.")
    return 0


def register(group: click.Group) -> None:
    for command in (plan_command, apply_command, history_command, force_unlock_command):
        group.add_command(command)
