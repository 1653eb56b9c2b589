"""``hookplane validate``, ``init``, ``schema`` and ``-C/--root`` through the real CLI.

Commands run in-process through :func:`hookplane.cli.main.run` (the function the console
script calls), so the exit codes are the ones a shell sees; output is checked exactly.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hookplane.cli.main import run
from hookplane.config.schema import json_schema_text

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Invoke = Callable[..., Result]
"""``hookplane("-C", root, "validate")`` -> :class:`Result`."""


@pytest.fixture
def hookplane(capsys: pytest.CaptureFixture[str]) -> Invoke:
    def invoke(*args: str | Path) -> Result:
        capsys.readouterr()
        code = run(["--no-color", *(str(a) for a in args)])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


VALID = {
    "environments/preview/environment.yaml": "name: preview\nkind: preview\n"
                                             "promotes_to: production\n",
    "environments/production/environment.yaml": "name: production\nkind: production\n",
    "environments/preview/main.yaml": """\
        collections:
          incidents:
            schema:
              type: object
              properties:
                title: {type: string}
                severity: {type: string}
        triggers:
          notify:
            collection: incidents
            events: [create]
            url: https://hooks.example.com/notify
        api_keys:
          ci: {scopes: [write]}
        """,
}

BROKEN = """\
    triggers:
      notify:
        collection: incidents
        evnts: [create]
        url: https://hooks.example.com/notify
      leak:
        collection: incidents
        events: [update]
        url: https://hooks.example.com/leak
        signing: {secret: hunter2}
    """


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _write(tmp_path / "project", VALID)


@pytest.fixture
def broken(project: Path) -> Path:
    return _write(project, {"environments/preview/main.yaml": textwrap.dedent(
        VALID["environments/preview/main.yaml"]).split("triggers:")[0] + textwrap.dedent(BROKEN)})


# --------------------------------------------------------------------------- validate


def test_validate_all_environments(hookplane: Invoke, project: Path) -> None:
    result = hookplane("-C", project, "validate")
    assert result == Result(0, "✓ preview: 3 resources valid\n"
                               "✓ production: 0 resources valid\n", "")


def test_validate_one_environment(hookplane: Invoke, project: Path) -> None:
    assert hookplane("-C", project, "validate", "production") == Result(
        0, "✓ production: 0 resources valid\n", "")


def test_validate_lists_every_error_with_its_position(
    hookplane: Invoke, broken: Path
) -> None:
    result = hookplane("-C", broken, "validate")
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        "Error: environments/preview/main.yaml:11:5: triggers.notify: unknown key 'evnts' "
        "(did you mean 'events'?)\n"
        "Error: environments/preview/main.yaml:17:23: triggers.leak: a secret must not be "
        "written in YAML (omit it to have Hookplane generate one at apply, or write "
        "${env:NAME})\n"
        "2 errors found.\n"
    )


def test_validate_json_when_valid(hookplane: Invoke, project: Path) -> None:
    result = hookplane("-C", project, "validate", "--json")
    assert (result.code, result.err) == (0, "")
    assert json.loads(result.out) == {
        "valid": True,
        "environments": {"preview": {"resources": 3}, "production": {"resources": 0}},
        "errors": [],
        "warnings": [],
    }


def test_validate_json_when_invalid(hookplane: Invoke, broken: Path) -> None:
    result = hookplane("-C", broken, "validate", "--json", "preview")
    assert (result.code, result.err) == (1, "")
    report = json.loads(result.out)
    assert report["valid"] is False
    assert report["errors"] == [
        {
            "file": "environments/preview/main.yaml",
            "line": 11,
            "column": 5,
            "address": "triggers.notify",
            "message": "triggers.notify: unknown key 'evnts' (did you mean 'events'?)",
            "hint": "",
        },
        {
            "file": "environments/preview/main.yaml",
            "line": 17,
            "column": 23,
            "address": "triggers.leak",
            "message": "triggers.leak: a secret must not be written in YAML",
            "hint": "omit it to have Hookplane generate one at apply, or write ${env:NAME}",
        },
    ]


def test_validate_never_prints_the_literal_secret(hookplane: Invoke, broken: Path) -> None:
    for args in (["validate"], ["validate", "--json"]):
        result = hookplane("-C", broken, *args)
        assert "hunter2" not in result.out + result.err


def test_validate_unknown_environment_suggests(hookplane: Invoke, project: Path) -> None:
    assert hookplane("-C", project, "validate", "prod") == Result(
        1, "",
        "Error: environments/prod: no environment 'prod' (did you mean 'production'?); "
        "environments here: preview, production\n"
        "1 error found.\n",
    )
    result = hookplane("-C", project, "validate", "previwe")
    assert result.code == 1
    assert "no environment 'previwe' (did you mean 'preview'?)" in result.err


def test_validate_without_environments(hookplane: Invoke, tmp_path: Path) -> None:
    assert hookplane("-C", tmp_path, "validate") == Result(
        1, "",
        "Error: environments: no environments found; run 'hookplane init' or pass -C/--root "
        "DIR\n1 error found.\n",
    )


def test_validate_the_repository_demo(hookplane: Invoke) -> None:
    result = hookplane("-C", REPO, "validate")
    assert result.code == 0, result.err
    assert result.out.startswith("✓ preview: ")
    assert "✓ production: " in result.out


# --------------------------------------------------------------------------- -C / --root


def test_root_defaults_to_the_current_directory(
    hookplane: Invoke, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    expected = hookplane("-C", project, "validate")
    assert hookplane("validate") == expected
    monkeypatch.chdir(project.parent)
    assert hookplane("--root", project, "validate") == expected
    assert hookplane("validate").code == 1  # no environments/ in the parent


# --------------------------------------------------------------------------- init


INIT_FILES = [
    "environments/preview/environment.yaml",
    "environments/production/environment.yaml",
    "environments/preview/hookplane.yaml",
    ".gitignore",
    "schema/hookplane.schema.json",
]


def test_init_scaffolds_a_project_that_validates(hookplane: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = hookplane("init", target)
    assert result.code == 0
    assert result.err == ""
    assert result.out == "".join(f"created {target / name}\n" for name in INIT_FILES) + (
        "\nNext: edit environments/preview/*.yaml, then run 'hookplane validate' and "
        "'hookplane plan preview'.\n"
    )
    assert (target / "schema" / "hookplane.schema.json").read_text(encoding="utf-8") == (
        json_schema_text()
    )
    for name in INIT_FILES:
        if name.endswith(".yaml"):
            text = (target / name).read_text(encoding="utf-8")
            assert text.startswith(
                "# yaml-language-server: $schema=../../schema/hookplane.schema.json\n")
    assert hookplane("-C", target, "validate") == Result(
        0, "✓ preview: 4 resources valid\n✓ production: 0 resources valid\n", "")
    assert hookplane("-C", target, "schema", "--check").code == 0


def test_init_uses_the_root_when_no_directory_is_given(hookplane: Invoke, tmp_path: Path) -> None:
    assert hookplane("-C", tmp_path, "init").code == 0
    assert (tmp_path / "environments" / "preview" / "hookplane.yaml").is_file()


def test_init_never_overwrites(hookplane: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "existing"
    assert hookplane("init", target).code == 0
    mine = target / "environments" / "preview" / "hookplane.yaml"
    mine.write_text("# my own work\n", encoding="utf-8")
    result = hookplane("init", target)
    assert result == Result(
        1, "",
        f"Error: {target / 'environments/preview/environment.yaml'} already exists; "
        "'hookplane init' never overwrites files\n",
    )
    assert mine.read_text(encoding="utf-8") == "# my own work\n"


def test_init_keeps_an_existing_gitignore(hookplane: Invoke, tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n", encoding="utf-8")
    assert hookplane("init", tmp_path).code == 0
    assert (tmp_path / ".gitignore").read_text(encoding="utf-8") == (
        "node_modules/\n.hookplane/\n")


# --------------------------------------------------------------------------- schema


def test_schema_writes_the_file(hookplane: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "schema" / "hookplane.schema.json"
    assert hookplane("-C", tmp_path, "schema") == Result(0, f"Wrote {target}\n", "")
    assert target.read_text(encoding="utf-8") == json_schema_text()
    assert hookplane("-C", tmp_path, "schema", "--check") == Result(
        0, f"{target} is up to date\n", "")


def test_schema_check_fails_when_stale(hookplane: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "schema" / "hookplane.schema.json"
    target.parent.mkdir()
    target.write_text(json_schema_text().replace('"additionalProperties": false', "", 1),
                      encoding="utf-8")
    assert hookplane("-C", tmp_path, "schema", "--check") == Result(
        1, "", f"{target} is out of date; run 'hookplane schema'\n")
    target.unlink()
    assert hookplane("-C", tmp_path, "schema", "--check").code == 1
    assert not target.exists()  # --check never writes


def test_schema_to_stdout_and_to_a_file(hookplane: Invoke, tmp_path: Path) -> None:
    assert hookplane("schema", "--output", "-") == Result(0, json_schema_text(), "")
    other = tmp_path / "other.json"
    assert hookplane("schema", "-o", other) == Result(0, f"Wrote {other}\n", "")
    assert json.loads(other.read_text(encoding="utf-8"))["$schema"] == (
        "https://json-schema.org/draft/2020-12/schema")


def test_the_repository_schema_is_current(hookplane: Invoke) -> None:
    result = hookplane("-C", REPO, "schema", "--check")
    assert result.code == 0, result.err


def test_validate_one_environment_checks_promotes_to(hookplane: Invoke, project: Path) -> None:
    _write(project, {"environments/preview/environment.yaml":
                     "name: preview\nkind: preview\npromotes_to: prodution\n"})
    expected = Result(
        1, "",
        "Error: environments/preview/environment.yaml:3:14: promotes_to 'prodution' is not an "
        "environment (did you mean 'production'?)\n1 error found.\n",
    )
    assert hookplane("-C", project, "validate", "preview") == expected
    assert hookplane("-C", project, "validate") == expected
