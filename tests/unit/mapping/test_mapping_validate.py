from __future__ import annotations

from typing import Any

import pytest

from hookplane.config.models import Mapping
from hookplane.mapping import check_date_format, validate_mapping


def _mapping(**sections: Any) -> Mapping:
    return Mapping.model_validate(sections)


def test_spec_example_is_valid() -> None:
    mapping = _mapping(
        to_external={"status": "state", "severity": "urgency", "title": "summary"},
        value_maps={"severity": {"p1": "high", "p2": "medium", "p3": "low"}},
        dates={"opened_at": {"external": "epoch_s"}, "closed_at": {"external": "%d/%m/%Y %H:%M"}},
        compose={"name": "{first} {last}"},
        computed={"label": "{{record.severity}}: {{payload.summary}}", "all": "{{record}}"},
    )
    assert validate_mapping(mapping) == []


@pytest.mark.parametrize(
    ("sections", "problem"),
    [
        ({"dates": {"at": {"external": "epoch"}}}, "did you mean 'epoch_s'?"),
        ({"dates": {"at": {"external": "YYYY-MM-DD"}}}, "'YYYY-MM-DD' is not a date format"),
        ({"dates": {"at": {"external": "%s"}}}, "'%s' cannot be read back"),
        (
            {"value_maps": {"sev": {"p1": "high", "p0": "high"}}},
            "value_maps.sev: 'p1' and 'p0' all map to 'high', so 'high' cannot be mapped back",
        ),
        (
            {"to_external": {"a": "x", "b": "x"}},
            "to_external: 'a' and 'b' are both written to external 'x'",
        ),
        (
            {"to_external": {"a": "x"}, "dates": {"x": {"external": "epoch_s"}}},
            "to_external: 'a' and 'x' are both written to external 'x'",
        ),
        ({"to_external": {"a": "x", "b": "x.y"}}, "'a' -> 'x' and 'b' -> 'x.y' overlap"),
        (
            {"to_native": {"a": "x"}, "computed": {"a": "{{payload.y}}"}},
            "native field 'a' is written by both to_native and computed",
        ),
        (
            {"compose": {"a": "{x}"}, "computed": {"a": "{{payload.y}}"}},
            "native field 'a' is written by both compose and computed",
        ),
        ({"compose": {"a": "{x"}}, "compose.a: unclosed '{' at column 1"),
        ({"compose": {"a": "x}"}}, "compose.a: single '}' at column 2"),
        ({"compose": {"a": "{x:>3}"}}, "format specifications are not supported"),
        ({"computed": {"a": "{{ payload.x() }}"}}, "computed.a: template error at column 1"),
        ({"computed": {"a": "{{ paylod.x }}"}}, "refers to 'paylod' (did you mean 'payload'?)"),
        ({"computed": {"a": "{{ record.later }}", "later": "x"}}, "does not produce before this"),
        ({"computed": {"a": "{{ record.nothing }}"}}, "record.nothing, which"),
        ({"to_external": {"a..b": "x"}}, "to_external: 'a..b' is not a field path"),
        ({"to_native": {"a": ""}}, "to_native.a: '' is not a field path"),
    ],
)
def test_validate_mapping_problems(sections: dict[str, Any], problem: str) -> None:
    problems = validate_mapping(_mapping(**sections))
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_direction_limits_the_checks() -> None:
    not_invertible = _mapping(value_maps={"sev": {"p1": "high", "p0": "high"}})
    assert validate_mapping(not_invertible, direction="outbound") == []
    assert len(validate_mapping(not_invertible, direction="inbound")) == 1
    collision = _mapping(to_external={"a": "x", "b": "x"})
    assert validate_mapping(collision, direction="inbound") == []
    assert len(validate_mapping(collision, direction="outbound")) == 1


def test_computed_may_read_fields_written_earlier_or_parents_of_them() -> None:
    mapping = _mapping(
        to_external={"customer.name": "client"},
        computed={
            "a": "{{record.customer}}",
            "b": "{{record.customer.name.x}}",
            "c": "{{record.a}}",
        },
    )
    assert validate_mapping(mapping) == []


@pytest.mark.parametrize(
    ("fmt", "ok"),
    [
        ("epoch_s", True),
        ("epoch_ms", True),
        ("iso8601", True),
        ("%d/%m/%Y %H:%M", True),
        ("%Y-%m-%dT%H:%M:%S%z", True),
        ("%Y-%m-%d %H:%M:%S.%f", True),
        ("epoch_seconds", False),
        ("unix", False),
        ("%Q", False),
        ("%H:%M", False),  # drops the date
        ("%m/%d", False),  # drops the year
    ],
)
def test_check_date_format(fmt: str, ok: bool) -> None:
    assert (check_date_format(fmt) is None) is ok
