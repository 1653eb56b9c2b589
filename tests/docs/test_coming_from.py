"""docs/coming-from.md: every Hookplane command it names exists with the options it shows,
and every link resolves (mkdocs --strict checks anchors in CI)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hookplane.cli.main import run

PAGE = Path(__file__).resolve().parents[2] / "docs" / "coming-from.md"
_COMMAND = re.compile(r"`(hookplane [^`]+)`")


def _commands() -> list[str]:
    found: list[str] = []
    for line in PAGE.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = line.split(" | ")
        hookplane_cells = " | ".join(cells[1:]) if len(cells) > 1 else ""
        found.extend(m.group(1) for m in _COMMAND.finditer(hookplane_cells))
    return found


def test_the_page_maps_every_seed_product() -> None:
    text = PAGE.read_text()
    for product in ("## Rekor — triggers", "## Rekor — inbound webhooks", "## OpenGate",
                    "## PromptRails", "## Keeptrusts"):
        assert product in text
    assert len(_commands()) >= 12
    assert all("|" not in c for c in _commands())  # a bare | would split a table cell


@pytest.mark.parametrize("command", sorted(set(_commands())))
def test_each_command_exists_with_its_options(command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    words = [w for w in shlex.split(command) if w != "hookplane"]
    path: list[str] = []
    for word in words:  # the command path: words before the first argument or option
        if word.startswith("-") or word.isupper() or "…" in word or word in (
                "ENV", "preview", "production"):
            break
        path.append(word)
    assert run([*path, "--help"]) == 0, path
    help_text = capsys.readouterr().out
    for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", command):
        assert option in help_text, (command, option)
