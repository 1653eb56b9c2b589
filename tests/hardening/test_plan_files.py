"""Saved plan files are tamper-evident: ``hookplane apply`` applies a saved plan file only
when its MAC (HMAC-SHA256 under a key derived from the state's secret key) verifies and the
YAML it was made from is unchanged — every file under the environment has the sha256 the plan
recorded, none added, none removed — and the state's serial has not moved.

Before the fix, a hand-edited plan file (a trigger URL pointed elsewhere, an action changed)
was applied exactly as edited, and a plan made before the YAML changed was applied although
it no longer described the checked-out configuration.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hookplane.cli.main import run

REPO = Path(__file__).resolve().parents[2]
ENV_VALUES = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.example/T00/B00/slack-url-secret-value",
    "PAGERDUTY_TOKEN": "pagerduty-api-token-secret-value",
    "AGENT_RUNNER_TOKEN": "agent-runner-token-secret-value",
    "PAGERDUTY_WEBHOOK_SECRET": "pagerduty-webhook-secret-value",
}
ADDED = "Apply complete! Resources: 15 added, 0 changed, 0 replaced, 0 destroyed."
TAMPERED = ("failed its integrity check: it was changed after 'hookplane plan' saved it, or "
            "it was made against another state (a different secret key). Nothing was applied.")
RERUN = "Make the plan again: hookplane plan preview --out FILE"


@dataclass
class Project:
    root: Path
    url: str

    def run(self, *args: str, code: int = 0, database: str | None = None) -> str:
        """``hookplane ARGS`` as a user runs it (``run`` prints errors and sets the exit code),
        in click's CliRunner isolation; returns stdout and stderr as the terminal shows them."""
        argv = ["-C", str(self.root), "--no-color", *args, "--database-url", database or self.url]
        env: dict[str, str | None] = {**ENV_VALUES, "HOOKPLANE_SECRET_KEY": None,
                                      "HOOKPLANE_DATABASE_URL": None}
        with CliRunner().isolation(env=env) as (_, _, output):
            status = run(argv)
            text = output.getvalue().decode()
        assert status == code, (status, text)
        return text

    def plan(self, name: str = "preview.plan") -> Path:
        path = self.root.parent / name
        self.run("plan", "preview", "--out", str(path))
        return path

    def unchanged_state(self) -> None:
        """Nothing was applied: the state of preview has no history."""
        assert self.run("history", "preview") == "No history for 'preview' yet.\n"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "environments", root / "environments")
    return Project(root, f"sqlite:///{tmp_path / 'state' / 'state.db'}")


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _change(document: dict[str, Any], address: str) -> dict[str, Any]:
    changes: list[dict[str, Any]] = document["hookplane_plan"]["changes"]
    return next(c for c in changes if c["address"] == address)


def _retarget_url(document: dict[str, Any]) -> None:
    _change(document, "triggers.task-created")["after"]["url"] = "https://attacker.example/x"


def _create_to_noop(document: dict[str, Any]) -> None:
    _change(document, "triggers.task-created")["action"] = "no-op"


def _drop_a_change(document: dict[str, Any]) -> None:
    changes = document["hookplane_plan"]["changes"]
    changes.remove(_change(document, "triggers.task-created"))


def _forge_mac(document: dict[str, Any]) -> None:
    _retarget_url(document)
    document["mac"] = "hmac-sha256:" + "0" * 64


def _forget_config_file(document: dict[str, Any]) -> None:
    document["hookplane_plan"]["config_files"].pop("environments/preview/engineering.yaml")


def test_untouched_plan_applies(project: Project) -> None:
    planfile = project.plan()
    document = json.loads(planfile.read_text(encoding="utf-8"))
    assert document["mac"].startswith("hmac-sha256:")
    assert sorted(document["hookplane_plan"]["config_files"]) == [
        "environments/preview/engineering.yaml",
        "environments/preview/environment.yaml",
        "environments/preview/incidents.yaml",
    ]
    assert ADDED in project.run("apply", "preview", str(planfile))
    assert "No changes." in project.run("plan", "preview", "--detailed-exitcode")


def test_saved_plan_shows_how_to_apply(project: Project) -> None:
    planfile = project.root.parent / "p.plan"
    out = project.run("plan", "preview", "--out", str(planfile))
    assert f"hookplane apply preview {planfile}" in out
    assert ADDED in project.run("apply", "preview", str(planfile))


@pytest.mark.parametrize("edit", [_retarget_url, _create_to_noop, _drop_a_change, _forge_mac,
                                  _forget_config_file],
                         ids=["url", "action", "removed-change", "forged-mac", "config-record"])
def test_edited_plan_is_refused(project: Project, edit: Callable[[dict[str, Any]], None]
                                ) -> None:
    planfile = project.plan()
    _edit(planfile, edit)
    out = project.run("apply", "preview", str(planfile), code=1)
    assert out == f"Error: {planfile} {TAMPERED}\nError: {RERUN}\n"
    project.unchanged_state()


def test_reformatted_plan_still_applies(project: Project) -> None:
    """The MAC covers the plan's content, not its layout: re-indenting the JSON is harmless."""
    planfile = project.plan()
    document = json.loads(planfile.read_text(encoding="utf-8"))
    planfile.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    assert ADDED in project.run("apply", "preview", str(planfile))


@pytest.mark.parametrize("how", ["removed", "null"])
def test_plan_without_mac_is_refused(project: Project, how: str) -> None:
    planfile = project.plan()

    def strip(document: dict[str, Any]) -> None:
        if how == "removed":
            del document["mac"]
        else:
            document["mac"] = None

    _edit(planfile, strip)
    out = project.run("apply", "preview", str(planfile), code=1)
    assert out == (f"Error: {planfile} has no integrity check (MAC): it was saved by an older "
                   f"Hookplane or the MAC was removed. Nothing was applied.\nError: {RERUN}\n")
    project.unchanged_state()


def test_older_plan_file_is_refused(project: Project) -> None:
    """A plan saved before plan files carried a MAC (no ``mac``, no ``config_files``)."""
    planfile = project.plan()

    def downgrade(document: dict[str, Any]) -> None:
        del document["mac"]
        del document["hookplane_plan"]["config_files"]

    _edit(planfile, downgrade)
    out = project.run("apply", "preview", str(planfile), code=1)
    assert "has no integrity check (MAC)" in out and RERUN in out


def test_plan_from_another_state_is_refused(project: Project, tmp_path: Path) -> None:
    """Another state database has another secret key: its plans do not verify here."""
    other = f"sqlite:///{tmp_path / 'other' / 'state.db'}"
    planfile = project.root.parent / "other.plan"
    project.run("plan", "preview", "--out", str(planfile), database=other)
    out = project.run("apply", "preview", str(planfile), code=1)
    assert TAMPERED in out
    project.unchanged_state()


def test_refusals_print_no_secret(project: Project, tmp_path: Path) -> None:
    planfile = project.plan()
    key = (tmp_path / "state" / "secret.key").read_text(encoding="ascii").strip()
    _edit(planfile, _retarget_url)
    out = project.run("apply", "preview", str(planfile), code=1)
    assert key not in out
    for value in ENV_VALUES.values():
        assert value not in out


def test_plan_for_another_environment_is_refused(project: Project) -> None:
    planfile = project.plan()
    out = project.run("apply", "production", str(planfile), code=1)
    assert f"{planfile} is a plan for 'preview', not 'production'" in out


@pytest.mark.parametrize(("touch", "expected"), [
    (lambda env: env.joinpath("engineering.yaml").write_text(
        env.joinpath("engineering.yaml").read_text() + "# a comment\n"),
     "  changed: environments/preview/engineering.yaml"),
    (lambda env: env.joinpath("extra.yaml").write_text("triggers: {}\n"),
     "  added: environments/preview/extra.yaml"),
    (lambda env: env.joinpath("nested").mkdir() or env.joinpath("nested", "x.yml").write_text(
        "{}\n"),
     "  added: environments/preview/nested/x.yml"),
    (lambda env: env.joinpath("incidents.yaml").unlink(),
     "  removed: environments/preview/incidents.yaml"),
], ids=["changed", "added", "added-nested", "removed"])
def test_yaml_changed_after_plan_is_refused(project: Project, touch: Callable[[Path], Any],
                                            expected: str) -> None:
    planfile = project.plan()
    touch(project.root / "environments" / "preview")
    out = project.run("apply", "preview", str(planfile), code=1)
    assert out == ("Error: Saved plan is stale: the configuration of 'preview' changed since "
                   "the plan was made:\n"
                   f"Error: {expected}\n"
                   "Error: Run 'hookplane plan preview' again.\n")
    project.unchanged_state()


def test_several_changed_files_are_all_named(project: Project) -> None:
    planfile = project.plan()
    env = project.root / "environments" / "preview"
    (env / "engineering.yaml").write_text((env / "engineering.yaml").read_text() + "\n")
    (env / "incidents.yaml").unlink()
    (env / "zz.yaml").write_text("{}\n")
    out = project.run("apply", "preview", str(planfile), code=1)
    assert out.splitlines()[1:4] == [
        "Error:   changed: environments/preview/engineering.yaml",
        "Error:   removed: environments/preview/incidents.yaml",
        "Error:   added: environments/preview/zz.yaml",
    ]


def test_other_environment_yaml_does_not_matter(project: Project) -> None:
    planfile = project.plan()
    production = project.root / "environments" / "production" / "environment.yaml"
    production.write_text(production.read_text() + "# edited\n")
    assert ADDED in project.run("apply", "preview", str(planfile))


def test_state_moved_after_plan_is_still_refused(project: Project) -> None:
    planfile = project.plan()
    stale = project.root.parent / "stale.plan"
    shutil.copy(planfile, stale)
    assert ADDED in project.run("apply", "preview", str(planfile))
    out = project.run("apply", "preview", str(stale), code=1)
    assert "Saved plan is stale: the state of 'preview' changed" in out
    assert "Run 'hookplane plan preview' again." in out
