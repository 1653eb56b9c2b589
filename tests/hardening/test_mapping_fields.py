"""Mappings keep the fields they do not name; absent template values leave fields out.

Regressions of issue #16 items 2 and 8:

- the seed's inline mapping ``{to_external: {status: state}}`` dropped every other field, so
  a delivery missed its required fields and was refused with 422 (now ``unmapped: keep`` is
  the default and ``unmapped: drop`` restricts to the named fields; a renamed field moves,
  it is never kept twice);
- ``{{payload.assignees}}`` over an absent value rendered ``""`` and the record failed with
  "expected array" (now the field is left out);
- ``hookplane validate`` says (a positioned warning) when a mapping can never produce a
  required field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hookplane.config import load_all
from hookplane.config.advice import config_warnings
from hookplane.config.models import Mapping
from hookplane.mapping import compile_mapping, render_value
from tests.integration.runtime.test_mapping_fields import serve


def _compiled(**sections: Any) -> Any:
    return compile_mapping(Mapping.model_validate(sections))


@pytest.mark.parametrize(
    ("sections", "payload", "record"),
    [
        # the seed's own example: renamed, the rest kept
        ({"to_external": {"status": "state"}}, {"state": "open", "title": "t"},
         {"status": "open", "title": "t"}),
        # a nested rename moves the value and removes the parent it empties
        ({"to_external": {"name": "buyer.name"}}, {"buyer": {"name": "A"}, "n": 1},
         {"name": "A", "n": 1}),
        # restricted to the named fields
        ({"to_external": {"status": "state"}, "unmapped": "drop"},
         {"state": "open", "title": "t"}, {"status": "open"}),
        # a named field has one origin: the payload's own 'status' does not stand in
        ({"to_external": {"status": "state"}}, {"status": "x", "title": "t"}, {"title": "t"}),
    ],
)
def test_inbound(sections: dict[str, Any], payload: dict[str, Any],
                 record: dict[str, Any]) -> None:
    assert _compiled(**sections).to_native(payload) == record


def test_outbound_keeps_unnamed_fields_and_never_sends_derived_ones() -> None:
    compiled = _compiled(to_external={"status": "state"}, computed={"label": "{{payload.x}}"})
    assert compiled.to_external({"status": "open", "note": "n", "label": "l"}) == {
        "state": "open", "note": "n"}


def test_an_absent_lone_placeholder_leaves_its_field_out() -> None:
    fields = {"title": "{{payload.title}}", "assignees": "{{payload.assignees}}",
              "text": "by {{payload.author}}"}
    assert render_value(fields, {"payload": {"title": "t"}}) == {"title": "t", "text": "by "}
    assert render_value(fields, {"payload": {"title": "t", "assignees": ["a"]}})[
        "assignees"] == ["a"]


def test_validate_warns_about_a_mapping_that_cannot_produce_a_required_field(
        tmp_path: Path) -> None:
    preview = tmp_path / "environments" / "preview"
    preview.mkdir(parents=True)
    (preview / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (preview / "main.yaml").write_text(
        "collections:\n  c:\n    schema:\n      type: object\n      required: [title]\n"
        "      properties: {title: {type: string}, status: {type: string}}\n"
        "inbound_webhooks:\n  h:\n    collection: c\n    auth: {type: hmac}\n"
        "    mapping: {to_external: {status: state}, unmapped: drop}\n")
    (warning,) = config_warnings(load_all(tmp_path)["preview"])
    assert (warning.file, warning.line) == ("environments/preview/main.yaml", 11)
    assert "required field 'title'" in warning.message


def test_end_to_end(tmp_path: Path) -> None:
    with serve(tmp_path) as served:
        seed = served.post("seed-example", {"state": "open", "title": "API down"})
        assert served.record("incidents", seed) == {"status": "open", "title": "API down"}
        task = served.post("create-task", {"title": "Deploy failed"})
        # assignees and estimate are absent; the list keeps only the items present
        assert served.record("tasks", task) == {"title": "Deploy failed", "labels": []}
