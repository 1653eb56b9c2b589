"""docs/tutorial.md is executed: every command in its console blocks runs, in order, in one
bash, and prints what the page shows.

The page's ports (8080 for the runtime, 9000 for the receiver) are swapped for free ones; a
``hookplane`` and a ``python`` on PATH run this interpreter. The receiver the page tells the
reader to save is docs/receivers/python/receiver.py, copied next to the project as the page
says.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from tests.docs.console import Step, matches, parse, run
from tests.integration.runtime.harness import free_port

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "tutorial.md"


def _steps() -> list[Step]:
    return parse(PAGE.read_text(encoding="utf-8"))


def _shims(bin_dir: Path) -> None:
    bin_dir.mkdir()
    for name, argv in (("hookplane", f'"{sys.executable}" -m hookplane.cli'),
                       ("python", f'"{sys.executable}"')):
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\nexec {argv} "$@"\n', encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_the_page_has_the_whole_journey() -> None:
    commands = [step.command for step in _steps()]
    for needed in ("hookplane init", "hookplane validate", "hookplane plan preview",
                   "hookplane apply preview", "hookplane serve", "curl -s \"$INGEST\"",
                   "hookplane records list", "cat receiver.log"):
        assert any(needed in command for command in commands), needed


def test_matching_rules() -> None:
    assert matches(["a …", "...", "z"], ["a 123", "b", "c", "z"])
    assert matches(["...", "z"], ["z"])
    assert not matches(["a …"], ["a "])
    assert not matches(["a"], ["a", "extra"])
    assert not matches(["x …"], ["y 1"])


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("openssl") is None,
                    reason="the tutorial uses curl and openssl (.ci/run installs them)")
def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    steps = _steps()
    _shims(tmp_path / "bin")
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REPO / "docs" / "receivers" / "python" / "receiver.py", work / "receiver.py")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("HOOKPLANE_") and key not in ("NO_COLOR", "PYTHONPATH")}
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(REPO / "engine")
    replace = {"8080": str(free_port()), "9000": str(free_port())}
    outputs = run(steps, cwd=work, env=env, replace=replace)
    for step, actual in zip(steps, outputs, strict=True):
        assert matches(step.expected, actual), (
            f"$ {step.command}\n--- the page shows:\n" + "\n".join(step.expected)
            + "\n--- it printed:\n" + "\n".join(actual))
