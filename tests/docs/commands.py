"""Finding ``hookplane …`` commands in shell text and checking them against the click tree."""

from __future__ import annotations

import re
import shlex

import click

from hookplane.cli.main import cli

_SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "$(", "`"}
_GLOBAL_WITH_VALUE = {"-C", "--root"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def hookplane_invocations(script: str) -> list[list[str]]:
    """Every ``hookplane …`` simple command in a shell script, as its arguments."""
    script = script.replace("\\\n", " ")
    found: list[list[str]] = []
    for line in script.splitlines():
        if line.lstrip().startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for index, token in enumerate(tokens):
            if token.removeprefix("$(") != "hookplane":
                continue
            before = tokens[index - 1] if index else None
            if before is not None and before not in _SEPARATORS \
                    and not _ASSIGNMENT.match(before):
                continue  # an argument of another command (systemctl enable hookplane)
            args: list[str] = []
            for item in tokens[index + 1:]:
                if item in _SEPARATORS or set(item) <= set("<>&|;()") or item.endswith(")"):
                    break
                args.append(item)
            found.append(args)
    return found


def resolve(args: list[str]) -> tuple[str, click.Command, list[str]]:
    """The command ``hookplane ARGS`` runs and its own arguments; fails like click would."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in _GLOBAL_WITH_VALUE:
            rest.pop(0)
        else:
            assert option in ("--no-color",), f"unknown global option {option}"
    command: click.Command = cli
    path = "hookplane"
    while isinstance(command, click.Group):
        assert rest, f"'{path}' needs a subcommand"
        name = rest.pop(0)
        sub = command.get_command(click.Context(command), name)
        assert sub is not None, f"'{path} {name}' is not a Hookplane command"
        command, path = sub, f"{path} {name}"
    return path, command, rest


_TERMINAL_GLOBAL = ("--help", "-h", "--version")
"""Global options that print and exit (``hookplane --version``): nothing more to parse."""


def check(args: list[str]) -> None:
    """Parse ``hookplane ARGS`` as click would at run time, without running anything."""
    if args and args[0] in _TERMINAL_GLOBAL:
        assert len(args) == 1, f"'hookplane {args[0]}' takes nothing after it"
        return
    path, command, rest = resolve(args)
    command.make_context(path, rest, parent=click.Context(cli, info_name="hookplane"))
