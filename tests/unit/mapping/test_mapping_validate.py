from __future__ import annotations

from typing import Any

import pytest

from hookplane.config.models import FieldSchema, Mapping
from hookplane.mapping import check_date_format, required_field_problems, validate_mapping


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
    ("sections", "where", "problem"),
    [
        ({"dates": {"at": {"external": "epoch"}}}, "dates.at.external", "did you mean 'epoch_s'?"),
        ({"dates": {"at": {"external": "YYYY-MM-DD"}}}, "dates.at.external",
         "'YYYY-MM-DD' is not a date format"),
        ({"dates": {"at": {"external": "%s"}}}, "dates.at.external", "'%s' cannot be read back"),
        ({"value_maps": {"sev": {"p1": "high", "p0": "high"}}}, "value_maps.sev",
         "value map for 'sev' is not invertible: 'p1' and 'p0' both map to 'high'"),
        ({"value_maps": {"sev": {"p1": [1]}}}, "value_maps.sev",
         "value map values must be plain values"),
        ({"to_external": {"a": "x", "b": "x"}}, "to_external.b",
         "'b' and 'a' are both mapped onto 'x'; two fields cannot share one target"),
        ({"to_external": {"a": "x"}, "dates": {"x": {"external": "epoch_s"}}}, "dates.x",
         "'x' and 'a' are both mapped onto 'x'"),
        ({"to_external": {"a": "x", "b": "x.y"}}, "to_external.b",
         "'b' is mapped onto 'x.y' and 'a' onto 'x': one is inside the other"),
        ({"to_external": {"a": "x.y", "b": "x"}}, "to_external.b",
         "'b' is mapped onto 'x' and 'a' onto 'x.y': one is inside the other"),
        ({"to_native": {"a": "x", "b": "x"}}, "to_native.b",
         "'b' and 'a' both read 'x'; use computed for a second copy"),
        ({"to_native": {"a": "x"}, "computed": {"a": "{{payload.y}}"}}, "computed.a",
         "field 'a' is mapped twice (in to_native and computed)"),
        ({"compose": {"a": "{x}"}, "computed": {"a": "{{payload.y}}"}}, "computed.a",
         "field 'a' is mapped twice (in compose and computed)"),
        ({"to_external": {"a": "x"}, "compose": {"a": "{y}"}}, "compose.a",
         "field 'a' is mapped twice (in to_external and compose)"),
        ({"to_external": {"owner": "x", "owner.name": "y"}}, "to_external.owner.name",
         "'owner.name' is inside 'owner', which is mapped as a whole"),
        ({"to_external": {"a": "b", "b": "a"}}, "to_external.a", "rename cycle a → b → a"),
        ({"compose": {"a": "{x"}}, "compose.a", "compose pattern error at column 1"),
        ({"compose": {"a": "x}"}}, "compose.a", "single '}'"),
        ({"compose": {"a": "{x:>3}"}}, "compose.a", "format specifications are not supported"),
        ({"computed": {"a": "{{ payload.x() }}"}}, "computed.a", "template error at column 1"),
        ({"computed": {"a": "{{ paylod.x }}"}}, "computed.a",
         "refers to 'paylod' (did you mean 'payload'?)"),
        ({"computed": {"a": "{{ record.later }}", "later": "x"}}, "computed.a",
         "does not produce before this"),
        ({"computed": {"a": "{{ record.nothing }}"}}, "computed.a", "record.nothing, which"),
        ({"to_external": {"a..b": "x"}}, "to_external.a..b", "'a..b' is not a field path"),
        ({"to_native": {"a": ""}}, "to_native.a", "external path: '' is not a field path"),
    ],
)
def test_validate_mapping_problems(sections: dict[str, Any], where: str, problem: str) -> None:
    problems = validate_mapping(_mapping(**sections))
    assert len(problems) == 1, problems
    assert ".".join(problems[0].where) == where
    assert problem in problems[0].message
    assert str(problems[0]) == f"{where}: {problems[0].message}"


def test_value_maps_need_to_be_invertible_only_inbound() -> None:
    not_invertible = _mapping(value_maps={"sev": {"p1": "high", "p0": "high"}})
    assert validate_mapping(not_invertible, inbound=False) == []
    assert len(validate_mapping(not_invertible, inbound=True)) == 1
    # a collision of external targets is one whichever way the mapping is used
    collision = _mapping(to_external={"a": "x", "b": "x"})
    assert len(validate_mapping(collision, inbound=False)) == 1
    assert len(validate_mapping(collision, inbound=True)) == 1


def test_the_schema_names_the_fields_and_date_types() -> None:
    schema = FieldSchema.model_validate({"type": "object", "properties": {
        "title": {"type": "string"}, "opened": {"type": "integer"}}})
    problems = validate_mapping(
        _mapping(to_external={"titel": "summary"}, dates={"opened": {"external": "epoch_s"}}),
        schema=schema)
    assert [(p.where, p.message, p.key) for p in problems] == [
        (("to_external", "titel"),
         "mapping field 'titel' is not in the collection schema (did you mean 'title'?)", True),
        (("dates", "opened"),
         "'opened' is a date field, so its schema type must be string (ISO-8601), not integer",
         True),
    ]
    assert validate_mapping(_mapping(to_external={"titel": "summary"})) == []


@pytest.mark.parametrize(
    ("sections", "where"),
    [
        ({"unmapped": "drop", "to_external": {"status": "state"}}, ("unmapped",)),
        ({"to_external": {"name": "title"}}, ("to_external", "name")),
        ({"to_native": {"name": "title"}}, ("to_native", "name")),
    ],
)
def test_required_fields_a_mapping_cannot_produce(sections: dict[str, Any],
                                                   where: tuple[str, ...]) -> None:
    problems = required_field_problems(_mapping(**sections), ["title"])
    assert [p.where for p in problems] == [where]
    assert "'title'" in problems[0].message and problems[0].hint
    assert required_field_problems(_mapping(**sections, computed={"title": "x"}), ["title"]) == []


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
