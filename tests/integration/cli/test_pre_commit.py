"""The pre-commit hooks (``.pre-commit-hooks.yaml``) run as a project's pre-commit would:
``pre-commit try-repo`` installs this repository into its own environment and runs each
hook in a git project — passing on valid YAML, failing with the positioned error on invalid
YAML, and failing when the committed schema is stale."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import missing_tool

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pre_commit() -> list[str]:
    if shutil.which("git") is None:
        missing_tool("git is not installed (apt-get install -y git)")
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        missing_tool("pre-commit is not installed (pip install -e '.[dev]')")
    return [sys.executable, "-m", "pre_commit"]


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(project), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example"})


def _try(pre_commit: list[str], project: Path, hook: str,
         home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*pre_commit, "try-repo", str(REPO), hook, "--all-files"], check=False, cwd=project,
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1",
             "HOOKPLANE_DATABASE_URL": "", "PRE_COMMIT_COLOR": "never"})


def test_the_hooks_pass_valid_yaml_and_stop_invalid_yaml(
        pre_commit: list[str], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("pre-commit-home")  # one environment for both runs
    project = tmp_path / "project"
    shutil.copytree(REPO / "environments", project / "environments")
    shutil.copytree(REPO / "schema", project / "schema")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "project")

    passed = _try(pre_commit, project, "hookplane-validate", home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "hookplane validate" in passed.stdout and "Passed" in passed.stdout
    schema = _try(pre_commit, project, "hookplane-schema", home)
    assert schema.returncode == 0, schema.stdout + schema.stderr

    broken = project / "environments" / "preview" / "incidents.yaml"
    broken.write_text(broken.read_text().replace("events: [create, update]",
                                                 "events: [create, updte]", 1))
    (project / "schema" / "hookplane.schema.json").write_text("{}\n")
    _git(project, "add", "-A")
    failed = _try(pre_commit, project, "hookplane-validate", home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "environments/preview/incidents.yaml:" in failed.stdout and "updte" in failed.stdout
    stale = _try(pre_commit, project, "hookplane-schema", home)
    assert stale.returncode == 1 and "out of date" in stale.stdout + stale.stderr
