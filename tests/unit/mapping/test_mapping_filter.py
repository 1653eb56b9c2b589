from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookplane.errors import MappingError
from hookplane.mapping import compile_filter, filter_fields, validate_filter

RECORD: dict[str, Any] = {
    "severity": "p1",
    "priority": 3,
    "score": 2.5,
    "active": True,
    "assignee": None,
    "title": "beta",
    "tags": ["a", "b"],
    "meta": {"team": "core", "level": 2},
    "items": [{"id": "x"}],
}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, True),
        # equality
        ({"severity": "p1"}, True),
        ({"severity": "p2"}, False),
        ({"priority": 3}, True),
        ({"priority": 3.0}, True),
        ({"priority": "3"}, False),
        ({"active": True}, True),
        ({"active": 1}, False),  # JSON types: true is not 1
        ({"assignee": None}, True),
        ({"missing": None}, False),  # missing equals nothing, not even null
        ({"meta.team": "core"}, True),
        ({"items.0.id": "x"}, True),
        # membership
        ({"severity": ["p1", "p2"]}, True),
        ({"severity": ["p2", "p3"]}, False),
        ({"missing": ["p1"]}, False),
        ({"severity": []}, False),
        # operators
        ({"severity": {"eq": "p1"}}, True),
        ({"severity": {"ne": "p1"}}, False),
        ({"severity": {"ne": "p2"}}, True),
        ({"missing": {"ne": "p2"}}, True),
        ({"tags": {"eq": ["a", "b"]}}, True),
        ({"severity": {"in": ["p1"]}}, True),
        ({"severity": {"not_in": ["p1"]}}, False),
        ({"severity": {"not_in": ["p2"]}}, True),
        ({"missing": {"in": ["p1"]}}, False),
        ({"missing": {"not_in": ["p1"]}}, True),
        ({"assignee": {"exists": True}}, True),  # present, even though null
        ({"missing": {"exists": True}}, False),
        ({"missing": {"exists": False}}, True),
        ({"severity": {"exists": False}}, False),
        ({"priority": {"gt": 2}}, True),
        ({"priority": {"gt": 3}}, False),
        ({"priority": {"gte": 3}}, True),
        ({"priority": {"lt": 3}}, False),
        ({"priority": {"lte": 3}}, True),
        ({"score": {"gt": 2, "lt": 3}}, True),
        ({"score": {"gt": 2, "lt": 2.5}}, False),
        ({"title": {"gt": "alpha"}}, True),
        ({"title": {"lt": "alpha"}}, False),
        # comparisons only between numbers or between strings: otherwise false
        ({"priority": {"gt": "1"}}, False),
        ({"title": {"gt": 1}}, False),
        ({"active": {"gte": 0}}, False),
        ({"assignee": {"lt": 5}}, False),
        ({"missing": {"lt": 5}}, False),
        ({"tags": {"gt": "a"}}, False),
        # AND across fields
        ({"severity": "p1", "priority": {"gte": 3}}, True),
        ({"severity": "p1", "priority": {"gte": 4}}, False),
    ],
)
def test_filter_table(spec: dict[str, Any], expected: bool) -> None:
    assert compile_filter(spec)(RECORD) is expected
    assert validate_filter(spec) == []


def test_nan_never_compares() -> None:
    predicate = compile_filter({"n": {"gte": 0}})
    assert predicate({"n": float("nan")}) is False
    assert predicate({"n": 1}) is True


def test_filter_fields() -> None:
    assert filter_fields({"severity": "p1", "meta.team": {"in": ["a"]}}) == [
        "severity",
        "meta.team",
    ]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"severity": {"equals": "p1"}}, "filter operator 'equals' (did you mean 'eq'?)"),
        ({"severity": {"notin": ["p1"]}}, "filter operator 'notin' (did you mean 'not_in'?)"),
        ({"severity": {"exist": True}}, "filter operator 'exist' (did you mean 'exists'?)"),
        ({"severity": {"matches": "p.*"}}, "operator 'matches'; operators are eq, ne"),
        ({"severity": {"in": "p1"}}, "'in' needs a list"),
        ({"severity": {"not_in": 1}}, "'not_in' needs a list"),
        ({"severity": {"exists": "yes"}}, "'exists' needs true or false"),
        ({"priority": {"gt": None}}, "'gt' compares with a number or a string"),
        ({"priority": {"lte": True}}, "'lte' compares with a number or a string"),
        ({"priority": {}}, "no condition"),
        ({"a..b": 1}, "not a field path"),
        ({1: "x"}, "filter field 1: '1' is not a field path"),
        ({"first name": "ada"}, "'first name' is not a field path"),
        ({"a": {1, 2}}, "not set"),
    ],
)
def test_validate_filter_problems(spec: dict[Any, Any], problem: str) -> None:
    problems = validate_filter(spec)
    assert len(problems) == 1
    assert problem in problems[0]
    with pytest.raises(MappingError, match="invalid filter"):
        compile_filter(spec)


def test_validate_filter_reports_every_problem_and_non_mappings() -> None:
    assert len(validate_filter({"a": {"equals": 1, "in": 2}, "b": {"exists": 0}})) == 3
    assert validate_filter(["severity"]) == [
        "a filter is a mapping of field paths to conditions, e.g. {severity: p1}"
    ]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "0"]), children, max_size=3)
    ),
    max_leaves=8,
)
_ops = st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"])


@given(
    record=st.dictionaries(st.sampled_from(["a", "b", "c"]), _json, max_size=3),
    path=st.sampled_from(["a", "b", "a.b", "a.0", "c.a.0"]),
    operator=_ops,
    operand=st.integers() | st.text(max_size=3) | st.floats(),
)
def test_filters_never_raise(
    record: dict[str, Any], path: str, operator: str, operand: Any
) -> None:
    result = compile_filter({path: {operator: operand}})(record)
    assert isinstance(result, bool)
