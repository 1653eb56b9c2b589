"""`hookplane --help`, `--version` and `validate` start without importing the runtime.

`hookplane --help` took ~0.75 s here (1.8 s on a busy CI runner): it imported Litestar,
SQLAlchemy, aiohttp and the state layer to print help. Commands are now imported when used
(``cli/main._COMMANDS``); these tests keep the help identical to what the commands say,
and fail when a light command pulls a heavy library in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hookplane.cli import main

HEAVY = ("litestar", "sqlalchemy", "aiohttp", "uvicorn", "alembic", "hookplane.state",
         "hookplane.runtime")
PROBE = """
import json, sys
from hookplane.cli.main import run
code = run(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _modules(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path, text=True,
                          capture_output=True, timeout=60, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], report["modules"]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["plan", "--help"]],
                         ids=["help", "version", "plan-help"])
def test_light_commands_import_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    code, modules = _modules(tmp_path, *args)
    assert code == 0
    heavy = [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    if args == ["plan", "--help"]:  # plan's own module needs the state layer: fine
        return
    assert heavy == [], heavy


def test_validate_imports_no_runtime(tmp_path: Path) -> None:
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text("collections:\n  c: {schema: {type: object}}\n")
    code, modules = _modules(tmp_path, "-C", str(tmp_path), "validate")
    assert code == 0
    assert [m for m in modules if m.split(".")[0] in ("litestar", "sqlalchemy", "aiohttp",
                                                      "uvicorn", "alembic")] == []


def test_the_lazy_table_matches_the_commands() -> None:
    """Each entry names the module that registers it and the start of its real help, so
    the help `hookplane --help` prints without importing it is the command's own."""
    group = click.Group("probe")
    for name in main._COMMANDS:
        main.load_command(group, name)
    assert sorted(group.commands) == sorted(main._COMMANDS)
    for name, (_module, start) in main._COMMANDS.items():
        real = " ".join((group.commands[name].help or "").split())
        assert real.startswith(" ".join(start.split())), (name, real[:120])


COMPARE = """
import click, json
from hookplane.cli import main
def text():
    return main.cli.get_help(click.Context(main.cli, info_name="hookplane"))
lazy = text()
for name in main._COMMANDS:
    if name not in main.cli.commands:
        main.load_command(main.cli, name)
print(json.dumps([lazy, text()]))
"""


def test_help_is_the_same_lazy_or_loaded(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", COMPARE], cwd=tmp_path, text=True,
                          capture_output=True, timeout=60, check=True)
    lazy, loaded = json.loads(done.stdout)
    assert "Commands:" in lazy and lazy == loaded


def test_the_version_names_the_migrations_head() -> None:
    from hookplane.state.migrate import head_revision

    assert main.schema_revision() == head_revision()
