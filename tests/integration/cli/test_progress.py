"""Long applies report progress on a terminal, and only there."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hookplane.apply import apply
from hookplane.cli import common as plan_cli
from hookplane.config import load_environment
from hookplane.plan import diff
from hookplane.state.store import Store


def _project(root: Path, keys: int) -> None:
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    lines = ["api_keys:"] + [f"  key-{i}: {{scopes: [read]}}" for i in range(keys)]
    (env / "keys.yaml").write_text("\n".join(lines) + "\n")


def test_apply_reports_every_hundred_operations_and_the_end(tmp_path: Path,
                                                           database_url: str) -> None:
    _project(tmp_path, 250)
    seen: list[tuple[int, int]] = []
    with Store.open(database_url, root=tmp_path) as store:
        plan = diff(load_environment(tmp_path, "preview"), store.snapshot("preview"),
                    environ={}, fingerprint=store.fingerprint)
        apply(plan, store, environ={}, actor="t", progress=lambda d, t: seen.append((d, t)))
    assert seen == [(100, 250), (200, 250), (250, 250)]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    with plan_cli.progress_bar(1000, "Applying") as report:
        assert report is None  # not a terminal
    terminal = _Tty()
    monkeypatch.setattr("sys.stderr", terminal)
    with plan_cli.progress_bar(10, "Applying") as report:
        assert report is None  # too small to be worth it
    with plan_cli.progress_bar(1000, "Applying") as report:
        assert report is not None
        report(500, 1000)
        report(1000, 1000)
    assert "Applying" in terminal.getvalue() and "1000/1000" in terminal.getvalue()
    monkeypatch.setenv("CI", "true")
    with plan_cli.progress_bar(1000, "Applying") as report:
        assert report is None  # quiet in CI
