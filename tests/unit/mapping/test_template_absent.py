"""An absent value under a lone placeholder leaves its field out, never ``""``."""

from __future__ import annotations

from typing import Any

import pytest

from hookplane.config.models import Mapping
from hookplane.mapping import MISSING, compile_mapping, render_value

PAYLOAD: dict[str, Any] = {
    "title": "Deploy failed",
    "assignees": ["ada", "lin"],
    "count": 3,
    "meta": {"team": "core"},
    "nothing": None,
}


def test_present_values_keep_their_json_type() -> None:
    rendered = render_value(
        {
            "assignees": "{{payload.assignees}}",
            "count": "{{ payload.count }}",
            "meta": "{{payload.meta}}",
            "nothing": "{{payload.nothing}}",
        },
        {"payload": PAYLOAD},
    )
    assert rendered == {
        "assignees": ["ada", "lin"],
        "count": 3,
        "meta": {"team": "core"},
        "nothing": None,
    }


def test_an_absent_value_leaves_the_field_out() -> None:
    rendered = render_value(
        {
            "title": "{{payload.title}}",
            "assignees": "{{payload.assignees_missing}}",
            "nested": {"owner": "{{payload.meta.owner}}", "team": "{{payload.meta.team}}"},
        },
        {"payload": PAYLOAD},
    )
    assert rendered == {"title": "Deploy failed", "nested": {"team": "core"}}


def test_an_absent_list_item_is_left_out() -> None:
    rendered = render_value(["{{payload.title}}", "{{payload.nope}}", 5], {"payload": PAYLOAD})
    assert rendered == ["Deploy failed", 5]


def test_text_around_a_placeholder_still_renders_absent_as_empty() -> None:
    rendered = render_value(
        {"title": "[{{payload.env}}] {{payload.title}}", "spaced": " {{payload.nope}}"},
        {"payload": PAYLOAD},
    )
    assert rendered == {"title": "[] Deploy failed", "spaced": " "}


@pytest.mark.parametrize("missing", ["", None, MISSING])
def test_a_whole_template_over_an_absent_value_renders_what_the_caller_asks(
    missing: Any,
) -> None:
    assert render_value("{{payload.nope}}", {"payload": PAYLOAD}) == ""
    assert render_value("{{payload.nope}}", {"payload": PAYLOAD}, missing=missing) == missing
    # inside a structure the field is left out whatever the caller asks for
    assert render_value({"a": "{{payload.nope}}"}, {"payload": PAYLOAD}, missing=missing) == {}


def test_a_computed_field_over_an_absent_value_is_left_out() -> None:
    compiled = compile_mapping(
        Mapping(computed={"assignees": "{{payload.assignees}}", "count": "{{payload.count}}"})
    )
    assert compiled.to_native({"title": "x", "count": 2}) == {"title": "x", "count": 2}
    assert compiled.to_native({"assignees": []}) == {"assignees": []}
