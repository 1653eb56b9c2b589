"""The ``hookplane`` command. Only this module turns errors into exit codes.

Exit codes: 0 ok, 1 user error (invalid configuration, refused plan, ...), 2 changes present
(``plan --detailed-exitcode``), 3 a bug in Hookplane, 130 interrupted.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import click
import click.shell_completion

from hookplane import __version__
from hookplane.errors import ConfigError, HookplaneError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


class Context:
    """What every command receives: the project root and output preferences."""

    def __init__(self, root: Path, color: bool) -> None:
        self.root = root
        self.color = color

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text


def _want_color(no_color: bool) -> bool:
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _print_version(ctx: click.Context, value: bool) -> None:
    """``hookplane, version X (state schema revision R)``: the revision a state database is
    migrated to when this version opens it (imported only when asked)."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"hookplane, version {__version__} (state schema revision "
               f"{schema_revision()})")
    ctx.exit(0)


_MIGRATIONS = Path(__file__).resolve().parents[1] / "state" / "migrations" / "versions"
_REVISION = re.compile(r'^(down_revision|revision)\s*(?::[^=]*)?=\s*"([^"]+)"', re.MULTILINE)


def schema_revision() -> str | None:
    """The head revision of the state migrations, read from the revision files (what
    Alembic computes, without importing Alembic and SQLAlchemy to print a version)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in _MIGRATIONS.glob("*.py"):
        for kind, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if kind == "revision" else parents).add(value)
    heads = sorted(revisions - parents)
    return heads[0] if len(heads) == 1 else None


_COMMANDS: dict[str, tuple[str, str]] = {
    "api-keys": ("resources", "Inspect applied API keys."),
    "apply": ("plan", "Apply the YAML of ENVIRONMENT (or a saved PLANFILE) to the state, "
                      "atomically."),
    "doctor": ("state", "Check that this machine can run Hookplane: the state database "
                        "reachable and migrated,"),
    "events": ("events", "List the events ENVIRONMENT's triggers can send: each collection's "
                         "record and named events, then"),
    "force-unlock": ("plan", "Release ENVIRONMENT's state lock LOCK_ID left by an interrupted "
                             "run."),
    "history": ("plan", "List the audit log of ENVIRONMENT, newest first."),
    "inbound-webhooks": ("resources", "Inspect applied inbound webhooks."),
    "init": ("init", "Scaffold environments/preview and environments/production in DIRECTORY."),
    "plan": ("plan", "Show what apply would change in ENVIRONMENT."),
    "promote": ("promote", "Copy SOURCE's resources into TARGET's YAML, then show TARGET's "
                           "plan."),
    "records": ("resources", "Read records stored by the runtime."),
    "schema": ("schema", "Write the JSON Schema of Hookplane's YAML files (for editors and "
                         "CI)."),
    "serve": ("serve", "Serve the applied configuration: ingest, records API, admin API, "
                       "metrics."),
    "state": ("state", "Operate on the state database itself (re-encrypt it under a new "
                       "key)."),
    "show": ("plan", "Show a plan saved with 'hookplane plan ENV --out PLANFILE' (its MAC is "
                     "verified under this state"),
    "triggers": ("resources", "Inspect applied triggers."),
    "validate": ("validate", "Check the YAML of ENVIRONMENT (default: every environment)."),
}
"""Command -> (the ``hookplane.cli`` module that registers it, the start of its help, from
which ``hookplane --help`` shortens its line). Commands are imported when used, so that
``--help``, ``--version`` and ``validate`` do not import the runtime, SQLAlchemy and the
state layer; ``tests/unit/test_startup_imports.py`` keeps this table equal to the commands."""


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use (see :data:`_COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            load_command(self, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click does, from :data:`_COMMANDS` for commands not imported yet."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                if loaded.hidden:
                    continue
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                stand_in = click.Command(name, help=_COMMANDS[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def load_command(group: click.Group, name: str) -> None:
    """Import the module that registers ``name`` (it may register several commands)."""
    module = importlib.import_module(f"hookplane.cli.{_COMMANDS[name][0]}")
    before = set(group.commands)
    module.register(group)
    for added in set(group.commands) - before:
        _wire_completion(group.commands[added])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "--root", "root", type=click.Path(file_okay=False, path_type=Path),
              default=".", show_default=True, help="Project root (holds environments/).")
@click.option("--no-color", is_flag=True, help="Never colour the output (NO_COLOR works too).")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, param, value: _print_version(ctx, value),
              help="Show the version and the state schema revision, then exit.")
@click.pass_context
def cli(ctx: click.Context, root: Path, no_color: bool) -> None:
    """Webhooks as code: validate, plan, apply and promote webhook configuration."""
    ctx.obj = Context(root=root, color=_want_color(no_color))


_ENVIRONMENT_ARGUMENTS = frozenset({"environment", "source", "target"})


def _complete_environment(ctx: click.Context, param: click.Parameter,
                          incomplete: str) -> list[click.shell_completion.CompletionItem]:
    """Shell completion of an ENVIRONMENT argument: the folders under ROOT/environments."""
    from hookplane.config import list_environments

    root = ctx.find_root().params.get("root") or Path(".")
    try:
        names = list_environments(Path(root))
    except OSError:
        return []
    return [click.shell_completion.CompletionItem(name) for name in names
            if name.startswith(incomplete)]


def _wire_completion(command: click.Command) -> None:
    """Complete environment names wherever a command takes one (``_HOOKPLANE_COMPLETE``)."""
    for param in command.params:
        if isinstance(param, click.Argument) and param.name in _ENVIRONMENT_ARGUMENTS:
            param._custom_shell_complete = _complete_environment
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _wire_completion(sub)


_wire_completion(cli)  # its own options; commands are wired as they load


def _print_error(exc: HookplaneError) -> None:
    if isinstance(exc, ConfigError):
        for diagnostic in exc.diagnostics:
            click.echo(f"Error: {diagnostic.format()}", err=True)
        count = len(exc.diagnostics)
        click.echo(f"{count} error{'s' if count != 1 else ''} found.", err=True)
    else:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            click.echo(f"Error: {line}", err=True)


def _global_flags_first(argv: list[str]) -> list[str]:
    """``--no-color`` is accepted after the subcommand too (Terraform takes ``-no-color``
    anywhere; CI templates append it): moved in front, up to a ``--``."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [arg for arg in argv[:end] if arg == "--no-color"]
    if not flags:
        return argv
    rest = [arg for arg in argv[:end] if arg != "--no-color"]
    return ["--no-color", *rest, *argv[end:]]


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (used by tests and :func:`main`)."""
    args = _global_flags_first(list(sys.argv[1:] if argv is None else argv))
    try:
        result = cli.main(args=args, prog_name="hookplane", standalone_mode=False)
    except HookplaneError as exc:
        _print_error(exc)
        return EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return EXIT_ERROR if exc.exit_code != 0 else EXIT_OK
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except Exception:
        click.echo("Hookplane hit a bug; please report it with this trace:", err=True)
        click.echo(traceback.format_exc(), err=True)
        return EXIT_BUG
    return int(result or 0)


def main() -> None:
    sys.exit(run())
