"""The package installs clean from its wheel and runs without the source tree.

`python -m build` makes an sdist and a wheel, `twine check` passes, every file of the
package (migrations and their template, console templates and assets, py.typed) is in the
wheel, and a fresh virtual environment with only the wheel installed — not editable, no
source tree on the path, run from an empty directory — runs `--version`, `init`,
`validate`, `plan` and `serve` up to /healthz.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "engine" / "hookplane"


def _run(argv: list[str], *, cwd: Path, timeout: float = 600,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(REPO)],
         cwd=out)
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin/ directory of a fresh venv holding the wheel (and its dependencies)."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(venv)], cwd=venv)
    (wheel,) = dist.glob("*.whl")
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
         cwd=venv)
    yield venv / "bin"


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "HOOKPLANE_DATABASE_URL", "HOOKPLANE_SECRET_KEY",
                        "VIRTUAL_ENV")}
    env["NO_COLOR"] = "1"
    return env


def test_twine_check_passes(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert any(f.endswith(".whl") for f in files) and any(f.endswith(".tar.gz") for f in files)
    done = _run([sys.executable, "-m", "twine", "check", "--strict", *files], cwd=dist)
    assert done.stdout.count("PASSED") == 2


def test_every_file_of_the_package_is_in_the_wheel(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    expected = {"hookplane/" + path.relative_to(PACKAGE).as_posix()
                for path in PACKAGE.rglob("*")
                if path.is_file() and "__pycache__" not in path.parts}
    assert sorted(expected - inside) == []
    assert "hookplane/py.typed" in inside
    assert any(name.startswith("hookplane/state/migrations/versions/") for name in inside)
    assert any(name.startswith("hookplane/runtime/console/templates/") for name in inside)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_installed_wheel_runs_from_an_empty_directory(installed: Path,
                                                          tmp_path: Path) -> None:
    env = _clean_env()
    hookplane = str(installed / "hookplane")
    version = _run([hookplane, "--version"], cwd=tmp_path, env=env).stdout
    assert version.startswith("hookplane, version ") and "state schema revision 00" in version
    where = _run([str(installed / "python"), "-c",
                  "import hookplane; print(hookplane.__file__)"], cwd=tmp_path, env=env).stdout
    assert "site-packages" in where and str(REPO) not in where  # the wheel, not the source
    _run([hookplane, "init", "."], cwd=tmp_path, env=env)
    assert "valid" in _run([hookplane, "validate"], cwd=tmp_path, env=env).stdout
    plan = _run([hookplane, "plan", "preview"], cwd=tmp_path, env=env).stdout
    assert "to add" in plan
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen([hookplane, "serve", "--host", "127.0.0.1", "--port",
                                   str(port)], cwd=tmp_path, env=env, stdout=output,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text(errors="replace")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                            timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer /healthz in 60 s"
                time.sleep(0.2)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    shutil.rmtree(tmp_path / ".hookplane", ignore_errors=True)
