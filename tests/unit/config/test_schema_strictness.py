"""The JSON Schema is as strict as `validate` where a schema can say it, and never stricter.

Measured from outside: of 24 snippets `validate` rejects, the schema rejected 3, and it
rejected an empty or comment-only file that `validate` accepts. Each case below is refused
by `validate` AND by the schema (an editor flags it as you type); the reverse direction runs
every YAML file of the repository, and the edge files, through the schema.

What a schema cannot say stays with `validate` (and is not listed as a case here): references
across resources and files (an unknown collection or source), mapping and template semantics,
named events declared by the collection, credential-looking literal headers and URLs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from hookplane.config import load_environment
from hookplane.config.schema import json_schema
from hookplane.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
VALIDATOR = jsonschema.Draft202012Validator(json_schema())
BASE = """\
collections:
  incidents:
    schema: {type: object, properties: {title: {type: string}, sev: {type: string}}}
"""

REFUSED_BY_BOTH = {
    "timeout-over-an-hour": BASE + """\
triggers:
  t: {collection: incidents, events: [create], url: "https://h.example.com/t", timeout: 4000}
""",
    "duplicate-events": BASE + """\
triggers:
  t: {collection: incidents, events: [create, create], url: "https://h.example.com/t"}
""",
    "resource-name-pattern": BASE + """\
triggers:
  Bad_Name!: {collection: incidents, events: [create], url: "https://h.example.com/t"}
""",
    "empty-enum": """\
collections:
  incidents:
    schema: {type: object, properties: {sev: {type: string, enum: []}}}
""",
    "literal-secret": BASE + """\
inbound_webhooks:
  w: {collection: incidents, auth: {type: stripe, secret: whsec_literal_value}}
""",
    "literal-signing-secret": BASE + """\
triggers:
  t: {collection: incidents, events: [create], url: "https://h.example.com/t",
      signing: {secret: plain-text-secret}}
""",
    "unknown-nested-key": BASE + """\
triggers:
  t: {collection: incidents, events: [create], url: "https://h.example.com/t",
      retry: {attempts: 3, backof: fixed}}
""",
    "unknown-section": "trigers: {}\n",
    "cooldown-too-long": BASE + """\
triggers:
  t: {collection: incidents, events: [create], url: "https://h.example.com/t",
      circuit_breaker: {cooldown: 7200}}
""",
}


def _validate(tmp_path: Path, text: str) -> list[str]:
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True, exist_ok=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(text))
    try:
        load_environment(tmp_path, "preview")
    except ConfigError as exc:
        return [d.format() for d in exc.diagnostics]
    return []


@pytest.mark.parametrize("name", sorted(REFUSED_BY_BOTH))
def test_the_schema_refuses_what_validate_refuses(tmp_path: Path, name: str) -> None:
    text = REFUSED_BY_BOTH[name]
    assert _validate(tmp_path, text), f"{name}: validate accepts it"
    errors = list(VALIDATOR.iter_errors(yaml.safe_load(text)))
    assert errors, f"{name}: the schema accepts what validate refuses"


FILES = sorted(p for pattern in ("environments/*/*.yaml", "examples/*/environments/*/*.yaml",
                                 "tests/**/golden/*.yaml")
               for p in REPO.glob(pattern))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_the_schema_accepts_every_file_validate_accepts(path: Path) -> None:
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
              for e in VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("text", [
    "", "# only a comment\n",
    "x-delivery: &d {collection: incidents, events: [create]}\n" + BASE
    + "triggers:\n  t: {<<: *d, url: \"https://h.example.com/t\", timeout: 30s,\n"
      "      circuit_breaker: {failures: 3, cooldown: 1m, disable_after: 24h},\n"
      "      rate_limit: {deliveries: 5}, ordered: true}\n",
    BASE + "inbound_webhooks:\n  w: {collection: incidents, auth: {type: stripe, "
           "secret: \"${env:STRIPE_SECRET}\"}}\n",
], ids=["empty", "comment-only", "anchors-and-new-fields", "env-secret"])
def test_edge_files_validate_accepts_pass_the_schema(tmp_path: Path, text: str) -> None:
    assert _validate(tmp_path, text) == []
    assert list(VALIDATOR.iter_errors(yaml.safe_load(text))) == []
