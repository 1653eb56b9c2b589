"""Every page of the site: commands shown exist, and every page is in the navigation."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import click
import pytest

from tests.docs.commands import check, hookplane_invocations
from tests.docs.console import parse

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "node_modules" not in p.parts)
WRITTEN = [p for p in PAGES if p.parent.name != "reference"]  # reference/ is generated

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`(hookplane [^`]+)`")
_SHELLS = {"bash", "sh", "shell", "console", ""}


def shown_commands(markdown: str) -> tuple[list[list[str]], list[list[str]]]:
    """``hookplane`` command lines in shell code blocks, and commands named in inline code
    (``hookplane plan``: the command must exist; its arguments may be left out)."""
    lines: list[list[str]] = []
    for language, body in _FENCE.findall(markdown):
        if language not in _SHELLS:
            continue
        script = body if language != "console" else "\n".join(
            step.command for step in parse(f"```console\n{body}```\n"))
        lines += hookplane_invocations(script)
    named: list[list[str]] = []
    for inline in _INLINE.findall(_FENCE.sub("", markdown)):
        if not set("…|[<") & set(inline):  # not a synopsis with alternatives or elisions
            named += hookplane_invocations(" ".join(inline.split()))
    return lines, named


def _page_commands(which: int) -> list[tuple[str, list[str]]]:
    return [(page.relative_to(DOCS).as_posix(), args) for page in WRITTEN
            for args in shown_commands(page.read_text(encoding="utf-8"))[which]]


COMMANDS = _page_commands(0)
NAMED = _page_commands(1)


def test_the_pages_show_commands() -> None:
    assert len(COMMANDS) > 50 and len(NAMED) > 50


@pytest.mark.parametrize(("page", "args"), COMMANDS,
                         ids=[f"{p}:{' '.join(a)}" for p, a in COMMANDS])
def test_every_command_line_shown_parses(page: str, args: list[str]) -> None:
    try:
        check(args)
    except (click.BadParameter, FileNotFoundError) as exc:
        # a saved plan file the page made earlier: the command and options are right
        assert "plan" in " ".join(args) and "exist" in str(exc), exc


@pytest.mark.parametrize(("page", "args"), NAMED, ids=[f"{p}:{' '.join(a)}" for p, a in NAMED])
def test_every_command_named_exists(page: str, args: list[str]) -> None:
    # `hookplane plan` in prose names the command; its arguments are elsewhere
    with contextlib.suppress(click.MissingParameter):
        check(args)


def test_the_finder_skips_commands_that_only_mention_hookplane() -> None:
    lines, named = shown_commands(
        "```bash\nsystemctl enable --now hookplane\nX=$(hookplane plan preview)\n```\n"
        "Run `hookplane validate` or `hookplane plan ENV [--json|--format markdown]`.\n")
    assert lines == [["plan", "preview"]]
    assert named == [["validate"]]


def test_every_page_is_in_the_navigation() -> None:
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s*- (?:[^:\n]+: )?([\w/.-]+\.md)\s*$", config, re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert pages - listed == set(), "pages missing from mkdocs.yml's nav"
    assert listed - pages == set(), "mkdocs.yml's nav lists pages that do not exist"
