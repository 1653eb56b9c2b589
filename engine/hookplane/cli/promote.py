"""``hookplane promote FROM TO``."""

from __future__ import annotations

import click

from hookplane.cli.common import actor, database_url_option, git_commit, open_store
from hookplane.cli.main import Context
from hookplane.cli.plan import make_plan
from hookplane.plan import render_text
from hookplane.promote import plan_promotion, write_promotion
from hookplane.state.store import AuditRecord
from hookplane.yamledit import unified_diff


@click.command("promote")
@click.argument("source")
@click.argument("target")
@click.option("--dry-run", is_flag=True, help="Show the YAML changes; write nothing.")
@click.option("--overwrite", is_flag=True,
              help="Replace TARGET's own edits of promoted resources made since the last "
                   "promotion (without it such a conflict stops the promotion).")
@database_url_option
@click.pass_obj
def promote_command(obj: Context, source: str, target: str, *, dry_run: bool, overwrite: bool,
                    database_url: str | None) -> int:
    """Copy SOURCE's resources into TARGET's YAML, then show TARGET's plan.

    Mappings are re-validated against TARGET; TARGET's comments and formatting are kept;
    secrets are never copied (applying TARGET generates its own).
    """
    promotion = plan_promotion(obj.root, source, target, overwrite=overwrite)
    for conflict in promotion.overwritten:
        click.echo(obj.style(f"Overwriting: {conflict}", fg="yellow"))
    if not promotion.changes:
        click.echo(f"environments/{target} already matches environments/{source}; nothing to "
                   "write.")
    for change in promotion.changes:
        for line in unified_diff(change):
            color = "green" if line.startswith("+") else "red" if line.startswith("-") else None
            click.echo(obj.style(line, fg=color))
    for address in promotion.kept:
        click.echo(f"Note: {address} is declared differently in environments/{target}; "
                   f"kept {target}'s definition (collections, sources and API keys are the "
                   "target's own once it has them).")
    if dry_run:
        click.echo(f"\n(dry run: nothing written; {len(promotion.changes)} file(s) would change)")
        return 0
    write_promotion(obj.root, promotion)
    with open_store(obj.root, database_url) as store:
        if promotion.changes:
            store.record_audit(target, AuditRecord(
                action="promote", actor=actor(), git_commit=git_commit(obj.root),
                plan_digest=None,
                details={"from": source, "to": target,
                         "from_config_digest": promotion.source_digest,
                         "files": [c.path for c in promotion.changes]},
            ))
        click.echo(f"\nPromoted {source} → {target}: {len(promotion.changes)} file(s) written. "
                   f"Review and commit them, then apply '{target}'.\n")
        plan = make_plan(obj, store, target)
    click.echo(render_text(plan, style=obj.style), nl=False)
    return 0


def register(group: click.Group) -> None:
    group.add_command(promote_command)
