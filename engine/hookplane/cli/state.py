"""``hookplane state rekey`` and ``hookplane doctor``: the state database and its key."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from hookplane.cli.common import actor, database_url_option, open_store
from hookplane.cli.main import Context
from hookplane.errors import ConfigError, HookplaneError, SecretError
from hookplane.state.crypto import (
    SECRET_KEY_ENV,
    generate_key,
    install_key_file,
    stage_key_file,
)
from hookplane.state.db import resolve_url
from hookplane.state.keys import key_file_for

NEW_KEY_ENV = "HOOKPLANE_NEW_SECRET_KEY"
CLOCK_SKEW_SECONDS = 30.0
"""How far this machine's clock may be from the database server's before doctor fails:
signed timestamps (Standard Webhooks, Stripe, Slack …) are checked against it."""


@click.group("state")
def state_group() -> None:
    """Operate on the state database itself (re-encrypt it under a new key)."""


@state_group.command("rekey")
@database_url_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def rekey_command(obj: Context, database_url: str | None, yes: bool) -> int:
    """Re-encrypt every stored secret under a new HOOKPLANE_SECRET_KEY, atomically.

    The new key comes from HOOKPLANE_NEW_SECRET_KEY (never from an argument: it would stay
    in the shell history and the process list). For the embedded SQLite state with its key
    file (no HOOKPLANE_SECRET_KEY set), a new key is generated and the key file replaced
    once the database has switched. Audited as 'rekey' in every environment.
    """
    url = resolve_url(database_url, root=obj.root)
    key_file = key_file_for(url, root=obj.root)
    new_key = os.environ.get(NEW_KEY_ENV, "").strip()
    uses_file = key_file is not None and not os.environ.get(SECRET_KEY_ENV)
    if not new_key:
        if not uses_file:
            raise SecretError(
                f"set {NEW_KEY_ENV} to the new key (make one with: python -c \"from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"); "
                f"{SECRET_KEY_ENV} holds the current one")
        new_key = generate_key()
    with open_store(obj.root, database_url) as store:
        if not yes:
            click.confirm(f"Re-encrypt every secret of {store.url_display} under the new key? "
                          "Every process that opens this state will need it", abort=True,
                          err=True)
        staged = stage_key_file(key_file, new_key) if uses_file and key_file else None
        try:
            result = store.rekey(new_key, actor=actor())
        except BaseException:
            if staged is not None:
                staged.unlink(missing_ok=True)
            raise
    if uses_file and key_file is not None:
        install_key_file(key_file)
    click.echo(f"Re-encrypted {result.secrets} secret(s) and the resolved values of "
               f"{result.resources} resource(s) in {len(result.environments)} environment(s) "
               "under the new key; recorded as 'rekey' in each one's history.")
    if uses_file:
        click.echo(f"The key file {key_file} now holds the new key.")
    else:
        click.echo(f"Now set {SECRET_KEY_ENV} to the value of {NEW_KEY_ENV} for every process "
                   "that opens this state (CI, every replica): a process still holding the old "
                   "key refuses to start, and one already running refuses to write secrets.")
    click.echo("Saved plan files made before this no longer verify: plan again.")
    return 0


@click.command("doctor")
@click.argument("environments", nargs=-1)
@database_url_option
@click.pass_obj
def doctor_command(obj: Context, environments: tuple[str, ...],
                   database_url: str | None) -> int:
    """Check that this machine can run Hookplane: the state database reachable and migrated,
    the secret key right and able to decrypt every stored secret, the ${env:} references of
    ENVIRONMENTS (default: every environment) set here, the clock in step with the database.
    """
    from hookplane.config import list_environments, load_environment
    from hookplane.config.applied import ENV_REF
    from hookplane.state.migrate import head_revision

    failures = 0

    def report(ok: bool, what: str) -> None:
        nonlocal failures
        failures += not ok
        click.echo(f"{'ok  ' if ok else 'FAIL'} {what}")

    try:
        store = open_store(obj.root, database_url)
    except HookplaneError as exc:
        report(False, f"state database: {exc}")
        return 1
    with store:
        report(True, f"state database {store.url_display} reachable, migrated to revision "
                     f"{head_revision()}")
        try:
            count = store.check_secrets()
            report(True, f"secret key matches; {count} stored secret(s) and value set(s) "
                         "decrypt")
        except HookplaneError as exc:
            report(False, f"stored secrets: {exc}")
        skew = store.clock_skew_seconds()
        if skew is None:
            report(True, "clock: the database is embedded (SQLite), it shares this clock")
        else:
            report(abs(skew) <= CLOCK_SKEW_SECONDS,
                   f"clock: {skew:+.1f} s from the database server's "
                   f"(at most ±{CLOCK_SKEW_SECONDS:g} s: signed timestamps are checked "
                   "against it)")
    names = list(environments) or list_environments(obj.root)
    for name in names:
        try:
            config = load_environment(obj.root, name)
        except ConfigError as exc:
            report(False, f"environments/{name}: invalid ({len(exc.diagnostics)} problem(s); "
                          f"run 'hookplane validate {name}')")
            continue
        wanted = sorted({match for section in config.resources.values()
                         for resource in section.values()
                         for match in ENV_REF.findall(_text(resource.raw))})
        missing = [variable for variable in wanted if not os.environ.get(variable)]
        report(not missing,
               f"environments/{name}: {len(wanted)} ${{env:}} reference(s)"
               + (f"; not set here: {', '.join(missing)}" if missing else ", all set"))
    click.echo(f"{'No problems found' if not failures else f'{failures} problem(s)'} "
               f"({datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC).")
    return 1 if failures else 0


def _text(value: object) -> str:
    """Every string in a parsed YAML value, one per line (where ${env:} may appear)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "\n".join(_text(v) for v in value.values())
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return ""


def register(group: click.Group) -> None:
    group.add_command(state_group)
    group.add_command(doctor_command)
