"""The CI recipes in examples/ci/ parse, run Hookplane commands that exist with options that
exist, do what the CI guide says, and keep the PR comment under GitHub's limit."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from hookplane.cli.main import cli
from tests.docs.commands import check, hookplane_invocations, resolve

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"
GITHUB = sorted((CI / "github-actions").glob("*.yml"))
GITLAB = CI / "gitlab" / ".gitlab-ci.yml"
COMMENT_SCRIPT = CI / "scripts" / "plan-comment.sh"
GITHUB_COMMENT_LIMIT = 65_535

def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def _scripts(path: Path) -> Iterator[str]:
    data = _load(path)
    if path.name == ".gitlab-ci.yml":
        for name, job in data.items():
            if isinstance(job, dict) and not str(name).startswith("."):
                for key in ("before_script", "script", "after_script"):
                    yield from job.get(key) or []
        yield from (data.get("default") or {}).get("before_script") or []
        return
    for job in data["jobs"].values():
        for step in job.get("steps", []):
            if "run" in step:
                yield step["run"]


def _all_invocations() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for path in [*GITHUB, GITLAB]:
        for script in _scripts(path):
            found += [(path.name, args) for args in hookplane_invocations(script)]
    return found


INVOCATIONS = _all_invocations()


def test_the_recipes_exist_and_parse() -> None:
    assert {p.name for p in GITHUB} == {"hookplane-plan.yml", "hookplane-apply.yml",
                                        "hookplane-promote.yml"}
    for path in GITHUB:
        data = _load(path)
        assert data["jobs"], path
        assert True in data or "on" in data, f"{path.name} has no trigger"  # YAML 1.1: on=True
    assert {"validate", "plan", "apply:preview", "apply:production", "promote"} <= set(
        _load(GITLAB))


@pytest.mark.parametrize(("recipe", "args"), INVOCATIONS,
                         ids=[f"{r}:{' '.join(a)}" for r, a in INVOCATIONS])
def test_every_hookplane_command_exists_with_its_options(recipe: str, args: list[str]) -> None:
    check(args)


def _runs(recipe: Path) -> list[list[str]]:
    return [args for script in _scripts(recipe) for args in hookplane_invocations(script)]


def test_pull_requests_validate_and_plan_with_a_markdown_comment() -> None:
    for recipe in (CI / "github-actions" / "hookplane-plan.yml", GITLAB):
        runs = _runs(recipe)
        assert ["validate"] in runs
        plans = [args for args in runs if args[:1] == ["plan"]]
        assert any("--detailed-exitcode" in args for args in plans), recipe
        assert any(args[-2:] == ["--format", "markdown"] for args in plans), recipe
        assert "plan-comment.sh" in recipe.read_text(encoding="utf-8")
    github = _load(CI / "github-actions" / "hookplane-plan.yml")
    assert "pull_request" in github[True]
    steps = github["jobs"]["plan"]["steps"]
    assert any(str(step.get("uses", "")).startswith("actions/upload-artifact") for step in steps)


def test_merge_to_main_applies() -> None:
    github = _load(CI / "github-actions" / "hookplane-apply.yml")
    assert github[True]["push"]["branches"] == ["main"]
    runs = _runs(CI / "github-actions" / "hookplane-apply.yml")
    assert ["apply", "preview", "--auto-approve"] in runs
    assert ["apply", "production", "--auto-approve"] in runs
    gitlab = _runs(GITLAB)
    assert ["apply", "production", "--auto-approve"] in gitlab


def test_promotion_is_a_pull_request_that_changes_production_only() -> None:
    recipe = CI / "github-actions" / "hookplane-promote.yml"
    assert ["promote", "$FROM", "$TO"] in _runs(recipe)
    steps = _load(recipe)["jobs"]["promote"]["steps"]
    create = next(s for s in steps if str(s.get("uses", "")).startswith(
        "peter-evans/create-pull-request"))
    assert create["with"]["add-paths"] == "environments/${{ inputs.to }}/**"
    assert "environments/$TO/" in recipe.read_text(encoding="utf-8")
    assert ["promote", "$FROM", "$TO"] in _runs(GITLAB)
    assert "merge_request.create" in GITLAB.read_text(encoding="utf-8")


def test_the_parser_finds_commands_in_shell() -> None:
    script = textwrap.dedent("""\
        set +e
        hookplane plan "$ENVIRONMENT" --detailed-exitcode > "plan.txt"
        code=0; hookplane -C web validate || code=$?  # comment hookplane apply
        hookplane history production | head -n 5
        """)
    assert hookplane_invocations(script) == [
        ["plan", "$ENVIRONMENT", "--detailed-exitcode"], ["-C", "web", "validate"],
        ["history", "production"]]
    with pytest.raises(AssertionError, match="not a Hookplane command"):
        resolve(["deploy", "preview"])
    path, command, rest = resolve(["plan", "preview", "--no-such-option"])
    with pytest.raises(click.NoSuchOption):
        command.make_context(path, rest, parent=click.Context(cli, info_name="hookplane"))


# --------------------------------------------------------------------------- the PR comment


def _markdown_plan(root: Path, count: int) -> str:
    runner = CliRunner()
    assert runner.invoke(cli, ["-C", str(root), "init"]).exit_code == 0
    lines = ["collections:"]
    for index in range(count):
        lines += [f"  c{index:05d}:", "    description: a collection with a long-ish "
                  "description to make the plan long", "    schema:", "      type: object",
                  "      properties:", "        title: {type: string}",
                  "        severity: {type: string, enum: [p1, p2, p3]}"]
    (root / "environments" / "preview" / "many.yaml").write_text("\n".join(lines) + "\n",
                                                                 encoding="utf-8")
    result = runner.invoke(cli, ["-C", str(root), "plan", "preview", "--format", "markdown",
                                 "--database-url", f"sqlite:///{root / 'state.db'}"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
@pytest.mark.parametrize(("count", "truncated"), [(2, False), (3000, True)])
def test_the_comment_stays_under_githubs_limit_and_links_the_full_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, truncated: bool) -> None:
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    plan = tmp_path / "plan.md"
    plan.write_text(_markdown_plan(tmp_path / "project", count), encoding="utf-8")
    url = "https://github.com/acme/webhooks/actions/runs/1/artifacts/2"
    done = subprocess.run(["sh", str(COMMENT_SCRIPT), str(plan), url, "preview"],
                          capture_output=True, text=True, check=True)
    comment = done.stdout
    assert comment.startswith("<!-- hookplane-plan:preview -->\n### Hookplane plan for")
    assert len(comment) < GITHUB_COMMENT_LIMIT
    assert (url in comment) is truncated
    if truncated:
        assert "plan truncated" in comment
        assert comment.rstrip().endswith(f"[full plan for `preview`]({url}).")
