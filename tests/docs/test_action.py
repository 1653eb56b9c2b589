"""action.yml, the repository's GitHub Action, runs as GitHub would run it.

Every `run:` step is executed with bash the way the runner does (``bash --noprofile --norc
-eo pipefail``), its ``${{ inputs.* }}`` expressions and ``if:`` conditions evaluated, its
``env`` and ``working-directory`` applied and ``$GITHUB_OUTPUT`` provided, against a copy of
the demo project and a real SQLite state: validate, plan (the output and the comment file),
apply, plan again. Steps that are other actions (setup-python, github-script) are checked for
what they are given; the pip install step is checked against the package's own metadata
(the test runs the installed ``hookplane`` instead of installing from the registry).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((REPO / "action.yml").read_text())
ENV_VALUES = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.example/T00/B00/slack-url-secret-value",
    "PAGERDUTY_TOKEN": "pagerduty-api-token-secret-value",
    "AGENT_RUNNER_TOKEN": "agent-runner-token-secret-value",
    "PAGERDUTY_WEBHOOK_SECRET": "pagerduty-webhook-secret-value",
}
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def _value(expression: str, inputs: dict[str, str], event: str) -> str:
    expression = expression.strip()
    if expression.startswith("inputs."):
        return inputs[expression.removeprefix("inputs.")]
    if expression == "github.event_name":
        return event
    if expression.startswith("steps."):
        return ""
    raise AssertionError(f"action.yml uses an expression this test does not know: {expression}")


def _substitute(text: str, inputs: dict[str, str], event: str) -> str:
    return EXPRESSION.sub(lambda m: _value(m.group(1), inputs, event), text)


def _condition(text: str | None, inputs: dict[str, str], event: str) -> bool:
    """GitHub's ``if:`` for the forms action.yml uses: ``a == 'b'`` joined by ``&&``."""
    if text is None:
        return True
    result = True
    for part in text.split("&&"):
        left, operator, right = part.strip().partition("==")
        assert operator, f"unsupported condition {text!r}"
        result = result and _value(left, inputs, event) == right.strip().strip("'")
    return result


def _inputs(**given: str) -> dict[str, str]:
    values = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    for name, spec in ACTION["inputs"].items():
        if spec.get("required"):
            assert name in given, f"input {name} is required"
    return {**values, **given}


def _run(project: Path, *, event: str = "pull_request", **given: str) -> dict[str, Any]:
    """Run the action's steps; returns {"outputs": …, "ran": [step names]}."""
    inputs = _inputs(**given)
    output_file = project / "github-output.txt"
    output_file.write_text("")
    ran = []
    for step in ACTION["runs"]["steps"]:
        if not _condition(step.get("if"), inputs, event):
            continue
        name = step.get("name") or step.get("uses")
        if "uses" in step:
            with_values = {k: _substitute(str(v), inputs, event)
                           for k, v in (step.get("with") or {}).items()}
            if step["uses"].startswith("actions/setup-python"):
                assert with_values["python-version"] == inputs["python-version"]
            elif step["uses"].startswith("actions/github-script"):
                env = {k: _substitute(str(v), inputs, event) for k, v in step["env"].items()}
                comment = Path(env["HOOKPLANE_COMMENT"])
                comment = comment if comment.is_absolute() else project / comment
                assert comment.read_text().startswith(
                    f"<!-- hookplane-plan:{inputs['environment']} -->\n### Hookplane plan")
            ran.append(name)
            continue
        script = _substitute(step["run"], inputs, event)
        if "pip install" in script:
            _check_install(script, inputs)
            ran.append(name)
            continue
        assert step["shell"] == "bash"
        step_env = {k: _substitute(str(v), inputs, event)
                    for k, v in (step.get("env") or {}).items()}
        env = {**os.environ, "GITHUB_OUTPUT": str(output_file), **step_env}
        cwd = project / _substitute(step.get("working-directory", "."), inputs, event)
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, f"step {name!r} failed:\n{done.stdout}\n{done.stderr}"
        ran.append(name)
    outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if line)
    return {"outputs": outputs, "ran": ran}


def _check_install(script: str, inputs: dict[str, str]) -> None:
    """The install step installs this package with an extra it really has."""
    metadata = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    package = inputs["package"]
    match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[([a-z0-9,_-]+)\])?.*", package)
    assert match is not None and match.group(1) == metadata["name"], package
    for extra in (match.group(3) or "").split(","):
        if extra:
            assert extra in metadata["optional-dependencies"], extra
    assert f'"{package}"' in script


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("hookplane") is None:
        pytest.fail("the hookplane command is not on PATH: install the package (pip install -e .)")
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "environments", root / "environments")
    monkeypatch.setenv("HOOKPLANE_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    return root


def test_plan_on_a_pull_request_then_apply_on_main(project: Path) -> None:
    planned = _run(project, command="plan", environment="preview")
    assert planned["outputs"] == {"changes": "true"}
    assert planned["ran"] == ["actions/setup-python@v5", "Install Hookplane",
                              "Validate (errors as file:line:column)", "Plan",
                              "Post or update the plan comment"]
    text = (project / "hookplane-plan-preview.txt").read_text()
    assert "Plan: 15 to add, 0 to change, 0 to destroy." in text
    for value in ENV_VALUES.values():  # the plan and its comment never hold a secret
        assert value not in text
        assert value not in (project / "hookplane-plan-preview.md").read_text()

    applied = _run(project, event="push", command="apply", environment="preview")
    assert applied["ran"][-1] == "Apply" and "Plan" not in applied["ran"]
    again = _run(project, event="push", command="plan", environment="preview")
    assert again["outputs"] == {"changes": "false"}
    assert "Post or update the plan comment" not in again["ran"]  # not a pull request


def test_validate_fails_the_action_on_an_invalid_file(project: Path) -> None:
    (project / "environments/preview/broken.yaml").write_text("triggers:\n  x: {url: 3}\n")
    with pytest.raises(AssertionError, match=r"environments/preview/broken\.yaml:2:"):
        _run(project, command="validate")
