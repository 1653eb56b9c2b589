"""The JSON Schema in ``schema/`` is generated from the models and checks real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from hookplane.config.schema import json_schema_text

REPO = Path(__file__).resolve().parents[3]
SCHEMA_FILE = REPO / "schema" / "hookplane.schema.json"
PROJECTS = [REPO, *sorted(p for p in (REPO / "examples").iterdir() if p.is_dir())]
YAML_FILES = sorted(p for project in PROJECTS for p in (project / "environments").rglob("*.y*ml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _messages(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    """Every message of every error, including those inside anyOf branches."""
    found: list[str] = []
    stack = list(validator.iter_errors(document))
    while stack:
        error = stack.pop()
        found.append(error.message)
        stack.extend(error.context or [])
    return found


def test_schema_file_is_up_to_date() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json_schema_text(), (
        "schema/hookplane.schema.json is stale: run 'hookplane schema' and commit the result"
    )


def test_every_file_is_checked() -> None:
    assert len(YAML_FILES) >= 10
    assert any(p.name == "environment.yaml" for p in YAML_FILES)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_file_validates_against_the_schema(
    validator: jsonschema.Draft202012Validator, path: Path
) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert _messages(validator, document) == []


@pytest.mark.parametrize(("text", "expected"), [
    (
        "triggers:\n  t:\n    collection: c\n    evnts: [create]\n    url: https://x.example\n",
        "'evnts' was unexpected",
    ),
    ("colections:\n  c: {schema: {type: object}}\n", "'colections' was unexpected"),
    ("name: preview\nkind: preview\npromote_to: production\n", "'promote_to' was unexpected"),
    (
        "inbound_webhooks:\n  w:\n    collection: c\n    auth: {type: hmac, headr: X}\n",
        "'headr' was unexpected",
    ),
    ("name: preview\nkind: staging\n", "'staging' is not one of ['preview', 'production']"),
    (
        "triggers:\n  t:\n    collection: c\n    events: [created]\n    url: https://x.example\n",
        "'created' is not one of",
    ),
], ids=["trigger-key", "section", "environment-key", "auth-key", "kind", "event"])
def test_schema_rejects_what_the_loader_rejects(
    validator: jsonschema.Draft202012Validator, text: str, expected: str
) -> None:
    messages = _messages(validator, yaml.safe_load(text))
    assert any(expected in message for message in messages), messages


@pytest.mark.parametrize("text", [
    "inbound_webhooks:\n  w: {collection: c, action: upsert}\n",
    "triggers:\n  t: {collection: c, events: [create], url: 'https://x', timeout: 500ms}\n",
    "sources:\n  s: {collection: c, base_url: 'https://x', timeout: 10s}\n",
], ids=["action-shorthand", "trigger-duration", "source-duration"])
def test_schema_accepts_the_shorthands_the_models_accept(
    validator: jsonschema.Draft202012Validator, text: str
) -> None:
    assert _messages(validator, yaml.safe_load(text)) == []
