"""The ``hookplane`` command. Only this module turns errors into exit codes.

Exit codes: 0 ok, 1 user error (invalid configuration, refused plan, ...), 2 changes present
(``plan --detailed-exitcode``), 3 a bug in Hookplane, 130 interrupted.
"""

from __future__ import annotations

import os
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
    from hookplane.state.migrate import head_revision

    click.echo(f"hookplane, version {__version__} (state schema revision {head_revision()})")
    ctx.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def _register() -> None:
    from hookplane.cli import events, init, plan, promote, resources, schema, serve, validate

    for module in (validate, init, schema, plan, promote, resources, serve, events):
        module.register(cli)


_register()

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


_wire_completion(cli)


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
