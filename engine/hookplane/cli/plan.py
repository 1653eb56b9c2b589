"""``hookplane plan``, ``apply``, ``history``, ``force-unlock``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

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
from hookplane.plan.planfile import load_plan_file
from hookplane.state.store import Store


def _duration(value: str) -> float:
    text = value.strip()
    try:
        return float(text[:-1]) * {"s": 1, "m": 60, "h": 3600}[text[-1]] if text and (
            text[-1] in "smh") else float(text)
    except (KeyError, ValueError):
        raise click.BadParameter(f"'{value}' is not a duration; use e.g. 0, 30s, 5m") from None


def plan_options(command: Any) -> Any:
    """The options plan and apply share (Terraform's -target, -destroy, -refresh-only)."""
    command = click.option(
        "--refresh-only", is_flag=True,
        help="Change no resource: show the drift notes (rotations, changes made outside "
             "git), and on apply record them as acknowledged.")(command)
    command = click.option(
        "--destroy", is_flag=True,
        help="Plan to destroy every resource applied to ENVIRONMENT (protect: true still "
             "refuses).")(command)
    return click.option(
        "--target", "targets", multiple=True, metavar="ADDRESS",
        help="Limit the plan to this resource (KIND.NAME, repeatable) and what it refers "
             "to. For repairs, not routine changes.")(command)


def _mode(destroy: bool, refresh_only: bool) -> str:
    if destroy and refresh_only:
        raise click.UsageError("--destroy and --refresh-only cannot be combined")
    return "destroy" if destroy else "refresh-only" if refresh_only else "normal"


def make_plan(obj: Context, store: Store, environment: str, *, mode: str = "normal",
              targets: tuple[str, ...] = ()) -> Plan:
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
                    config_files=files, mode=mode, targets=targets)
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
@click.option("--input", "_ask", type=click.BOOL, default=True, metavar="BOOLEAN",
              help="Accepted for Terraform parity (-input=false): plan never asks anything.")
@plan_options
@database_url_option
@click.pass_obj
def plan_command(obj: Context, environment: str, *, as_json: bool, output_format: str | None,
                 out: Path | None, full_plan_url: str | None, detailed_exitcode: bool,
                 _ask: bool, targets: tuple[str, ...], destroy: bool, refresh_only: bool,
                 database_url: str | None) -> int:
    """Show what apply would change in ENVIRONMENT."""
    mode = _mode(destroy, refresh_only)
    with open_store(obj.root, database_url) as store:
        plan = make_plan(obj, store, environment, mode=mode, targets=targets)
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
@click.option("--input", "ask", type=click.BOOL, default=True, show_default=True,
              metavar="BOOLEAN",
              help="--input=false never asks: without --auto-approve the apply is refused "
                   "(Terraform's -input=false).")
@click.option("--lock", "lock", type=click.BOOL, default=True, show_default=True,
              metavar="BOOLEAN",
              help="--lock=false takes no state lock. Dangerous: another apply or a rotation "
                   "may run at the same time (the serial check still refuses a stale plan).")
@click.option("--lock-timeout", "lock_timeout", default="0s", show_default=True,
              metavar="DURATION", help="How long to wait for the state lock (e.g. 30s, 5m).")
@plan_options
@database_url_option
@click.pass_obj
def apply_command(obj: Context, environment: str, planfile: Path | None, *, auto_approve: bool,
                  ask: bool, lock: bool, lock_timeout: str, targets: tuple[str, ...],
                  destroy: bool, refresh_only: bool, database_url: str | None) -> int:
    """Apply the YAML of ENVIRONMENT (or a saved PLANFILE) to the state, atomically.

    Without PLANFILE the state lock is held from before the plan until the commit: nothing
    can land while the plan waits for its "yes".
    """
    mode = _mode(destroy, refresh_only)
    if planfile is not None and (targets or mode != "normal"):
        raise click.UsageError("--target, --destroy and --refresh-only shape a new plan; a "
                               "saved PLANFILE is applied as it was made")
    wait = _duration(lock_timeout)
    with open_store(obj.root, database_url) as store:
        held = (store.acquire_lock(environment, who=actor(), operation="apply",
                                   timeout=wait).id if lock else None)
        try:
            return _apply(obj, store, environment, planfile, auto_approve=auto_approve,
                          ask=ask, mode=mode, targets=targets, held=held, lock=lock)
        finally:
            if held is not None:
                store.release_lock(environment, held)


def _apply(obj: Context, store: Store, environment: str, planfile: Path | None, *,
           auto_approve: bool, ask: bool, mode: str, targets: tuple[str, ...],
           held: str | None, lock: bool) -> int:
    if planfile is not None:
        plan = read_saved_plan(planfile.read_bytes().decode("utf-8", "replace"), store,
                               root=obj.root,
                               environment=environment, source=str(planfile))
    else:
        plan = make_plan(obj, store, environment, mode=mode, targets=targets)
        click.echo(render_text(plan, style=obj.style), nl=False)
        if not plan.has_changes:
            return 0
        if not auto_approve:
            if not ask or not sys.stdin.isatty():
                why = ("--input=false" if not ask
                       else "there is no terminal to ask on")
                raise PlanError(
                    f"apply needs confirmation but {why}; pass --auto-approve, or save a "
                    f"plan with 'hookplane plan {environment} --out FILE' and run "
                    f"'hookplane apply {environment} FILE'"
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
                       git_commit=git_commit(obj.root), progress=report, held_lock=held,
                       lock=lock)
    click.echo("")
    if plan.mode == "refresh-only":
        click.echo(obj.style(f"Apply complete! {len(plan.drift)} drift note(s) acknowledged; "
                             "no resource changed.", fg="green", bold=True))
        return 0
    click.echo(obj.style(
        f"Apply complete! Resources: {result.added} added, {result.changed} changed, "
        f"{result.replaced} replaced, {result.destroyed} destroyed.", fg="green", bold=True))
    steps = _next_steps(result, plan)
    if steps:
        click.echo("")
        for line in steps:
            click.echo(line)
    return 0


@click.command("show")
@click.argument("planfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as versioned JSON.")
@database_url_option
@click.pass_obj
def show_command(obj: Context, planfile: Path, *, as_json: bool,
                 database_url: str | None) -> int:
    """Show a plan saved with 'hookplane plan ENV --out PLANFILE' (its MAC is verified
    under this state's key, so a file edited by hand is refused)."""
    with open_store(obj.root, database_url) as store:
        plan = load_plan_file(planfile.read_bytes().decode("utf-8", "replace"),
                              key=store.plan_file_key(), source=str(planfile),
                              environment="ENVIRONMENT")
    if as_json:
        click.echo(render_json(plan), nl=False)
    else:
        click.echo(render_text(plan, style=obj.style), nl=False)
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
    for command in (plan_command, apply_command, show_command, history_command,
                    force_unlock_command):
        group.add_command(command)
