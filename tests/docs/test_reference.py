"""The generated reference pages (docs/reference/) match the code that generates them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hookplane.cli.docs import (
    PAGES,
    REFERENCE_DIR,
    _attribute_docstrings,
    _model_order,
    cli_reference,
    docs_command,
    field_description,
    http_reference,
    openapi_document,
    stale_pages,
    yaml_reference,
)
from hookplane.cli.main import cli

REPO = Path(__file__).resolve().parents[2]


def test_generated_pages_are_up_to_date() -> None:
    stale = stale_pages(REPO)
    assert stale == [], (
        f"{', '.join(p.as_posix() for p in stale)} out of date with the code: run "
        "'python -m hookplane.cli.docs' and commit the result")


def test_a_stale_or_missing_page_is_reported_and_regenerated(tmp_path: Path) -> None:
    (tmp_path / REFERENCE_DIR).mkdir(parents=True)
    (tmp_path / REFERENCE_DIR / "cli.md").write_text("old\n", encoding="utf-8")
    assert sorted(p.relative_to(REFERENCE_DIR).as_posix()
                  for p in stale_pages(tmp_path)) == sorted(PAGES)
    assert {"providers.md", "samples/github.json"} <= set(PAGES)
    runner = CliRunner()
    check = runner.invoke(docs_command, ["--check", "-C", str(tmp_path)])
    assert check.exit_code == 1
    assert "docs/reference/cli.md is out of date" in check.output
    assert runner.invoke(docs_command, ["-C", str(tmp_path)]).exit_code == 0
    assert stale_pages(tmp_path) == []
    assert runner.invoke(docs_command, ["--check", "-C", str(tmp_path)]).exit_code == 0


def test_every_yaml_field_is_described() -> None:
    docstrings = _attribute_docstrings()
    missing = [f"{model.__name__}.{info.alias or name}"
               for model, _ in _model_order()
               for name, info in model.model_fields.items()
               if not field_description(model, name, info, docstrings)]
    assert missing == [], ("fields without a description: add a docstring under the field in "
                           "config/models.py (or a note in cli/docs.py): " + ", ".join(missing))


def test_the_yaml_reference_shows_types_defaults_and_examples() -> None:
    page = yaml_reference(REPO)
    assert ("| `events` | list of string (at least 1 item(s)) | **required** | Record events "
            "(`create`, `update`, `delete`), named events of the collection") in page
    assert "| `timeout` | duration (> 0, ≤ 3600) | `10.0` |" in page
    assert "| `scopes` | list of string (at least 1 item(s)) | **required** |" in page
    assert "Example, from `" in page


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    page = cli_reference()
    for name, command in cli.commands.items():
        assert f"## `hookplane {name}`" in page
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert f"`{opt}`" in page, (name, opt)


def test_every_route_is_in_the_http_reference() -> None:
    document, docstrings = openapi_document()
    page = http_reference(document, docstrings)
    assert len(document["paths"]) >= 10
    for path, item in document["paths"].items():
        for method in item:
            if method in ("get", "post", "patch", "put", "delete"):
                assert f"### `{method.upper()} {path}`" in page
    assert "| `limit` | query | no | integer (≥ 1, ≤ 500), default `50` |" in page
