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
from typing import Any

import jsonschema
import pytest
import yaml

from hookplane.config import load_environment, yamlio
from hookplane.config.schema import json_schema
from hookplane.config.yamlio import YamlProblem
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


# ------------------------------------------------------------- the whole invalid-config table

CROSS_FILE = "refers to another resource or file (a schema sees one file at a time)"
SEMANTICS = "mapping, template or filter semantics, decided against the collection's schema"
HEURISTIC = "credential-looking literal header: a heuristic over names and values"
FREE_FORM = "a ${env:} inside free-form JSON (filter, body, fields, mapping values)"
NOT_EXPRESSIBLE = {
    **dict.fromkeys([
        "defined-twice-across-files", "defined-twice-yml-in-subdirectory",
        "missing-environment-yaml", "environment-name-mismatch", "promotes-to-unknown",
        "promotes-to-itself", "unknown-collection-trigger", "unknown-collection-source",
        "unknown-source-write", "unknown-source-binding", "hydration-source-without-read",
        "binding-source-collection-mismatch", "binding-collection-not-target",
        "create-unknown-collection", "external-write-source-without-write",
        "external-write-other-collection", "api-key-scope-unknown-collection",
        "renamed-from-still-declared", "rename-cycle"], CROSS_FILE),
    **dict.fromkeys([
        "filter-unknown-field", "filter-unknown-nested-field", "filter-bad-operator",
        "filter-in-not-a-list", "filter-exists-not-boolean", "template-expression",
        "template-filter-syntax", "template-unclosed", "template-unknown-root",
        "template-unknown-record-field", "create-template-unknown-root", "create-unknown-field",
        "create-missing-required-field", "mapping-unknown-field", "mapping-unknown-nested-field",
        "two-fields-one-external-target", "two-fields-overlapping-external-targets",
        "system-event-template-unknown-root", "two-fields-read-one-external",
        "one-field-two-origins", "value-map-not-invertible-read-source",
        "value-map-not-invertible-bound-source", "value-map-not-invertible-json-equal",
        "date-format-unknown", "date-format-loses-date", "date-field-not-string",
        "compose-unbalanced", "compose-bad-field-path", "compose-without-field",
        "computed-unknown-record-field", "computed-refers-to-later-computed",
        "computed-unknown-root", "filter-no-condition", "filter-bad-path",
        "template-error-line-2", "compose-brace-inside-field", "mapping-bad-external-path",
        "computed-root-typo"],
        SEMANTICS),
    **dict.fromkeys(["literal-authorization-header", "literal-api-key-header",
                     "literal-invoke-authorization"], HEURISTIC),
    **dict.fromkeys(["env-ref-in-filter", "env-ref-in-body", "env-ref-in-create-fields",
                     "env-ref-in-mapping"], FREE_FORM),
    "ip-v6-invalid": "IPv6 address grammar (the schema checks IPv4 exactly, IPv6 loosely)",
    "retry-max-below-initial": "compares two fields' values",
    "duration-too-long": "a duration written as text ('2h') is compared after conversion",
    "value-map-key-not-text": "a YAML number key: JSON object keys are always text",
}
"""Cases of tests/unit/config/test_invalid_configs.py the schema accepts, and why it must.
Every other case is refused by the schema too; YAML that does not parse never reaches it."""


def _table() -> dict[str, Any]:
    from tests.unit.config.test_invalid_configs import CASES
    return {param.id: param.values[0] for param in CASES}


def _document(case: Any) -> tuple[bool, Any]:
    """(parses, data) of the file the case is about: its text, or its environment.yaml."""
    raw = case.text if case.text is not None else case.environment
    try:
        text = yamlio.decode(raw) if isinstance(raw, bytes) else textwrap.dedent(raw or "")
        return True, yamlio.parse(text)
    except YamlProblem:
        return False, None


@pytest.mark.parametrize("name", sorted(_table()))
def test_every_invalid_case_is_refused_by_the_schema_or_listed(name: str) -> None:
    parses, data = _document(_table()[name])
    if not parses:
        return  # invalid YAML: an editor's YAML parser reports it before any schema
    refused = bool(list(VALIDATOR.iter_errors(data)))
    if name in NOT_EXPRESSIBLE:
        assert not refused, (f"{name}: the schema now refuses it; remove it from "
                             "NOT_EXPRESSIBLE")
    else:
        assert refused, f"{name}: validate refuses it, the schema accepts it"


def test_not_expressible_names_only_cases_of_the_table() -> None:
    assert set(NOT_EXPRESSIBLE) <= set(_table())
