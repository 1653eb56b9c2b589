"""Every audited operation names who did it: rotate-secret and reveal from the CLI were
recorded as actor "unknown" where $USER is unset (a container, a CI runner). One rule now
decides the actor everywhere: HOOKPLANE_ACTOR, else the CI system's actor, else the OS
account the process runs as."""

from __future__ import annotations

import getpass
import textwrap
from pathlib import Path

import pytest

from hookplane.cli.main import run
from hookplane.state.store import Store
from tests.integration.runtime.harness import apply_environment


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    for name in ("USER", "USERNAME", "HOOKPLANE_ACTOR", "GITHUB_ACTOR", "GITLAB_USER_LOGIN",
                 "BUILDKITE_BUILD_CREATOR", "CIRCLE_USERNAME", "BITBUCKET_STEP_TRIGGERER_UUID",
                 "HOOKPLANE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent("""\
        collections:
          notes: {schema: {type: object}}
        inbound_webhooks:
          hook: {collection: notes, auth: {type: bearer}}
        """))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    return tmp_path, url


def _actors(root: Path, url: str) -> dict[str, str]:
    """The newest entry's actor per action."""
    actors: dict[str, str] = {}
    with Store.open(url, root=root) as store:
        for entry in store.history("preview"):  # newest first
            actors.setdefault(entry.action, entry.actor)
    return actors


def test_cli_operations_record_the_os_account_without_user(
        project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, url = project
    base = ["-C", str(root)]
    assert run([*base, "inbound-webhooks", "reveal", "preview", "hook",
                "--database-url", url]) == 0
    assert run([*base, "inbound-webhooks", "rotate-secret", "preview", "hook",
                "--database-url", url]) == 0
    capsys.readouterr()
    actors = _actors(root, url)
    assert actors["reveal-token"] == actors["rotate-secret"] == getpass.getuser()
    assert "unknown" not in actors.values()


def test_hookplane_actor_names_the_person_behind_a_ci_run(
        project: tuple[Path, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    root, url = project
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert run(["-C", str(root), "inbound-webhooks", "rotate-secret", "preview", "hook",
                "--database-url", url]) == 0
    assert _actors(root, url)["rotate-secret"] == "octocat (ci:github)"
    monkeypatch.setenv("HOOKPLANE_ACTOR", "release-bot on behalf of ada")
    assert run(["-C", str(root), "inbound-webhooks", "rotate-secret", "preview", "hook",
                "--database-url", url]) == 0
    capsys.readouterr()
    assert _actors(root, url)["rotate-secret"] == "release-bot on behalf of ada"
