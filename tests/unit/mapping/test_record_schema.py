"""Record validation against a collection's FieldSchema (hookplane.mapping.schema)."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookplane.config.models import FieldSchema
from hookplane.mapping.schema import (
    MAX_DEPTH,
    MAX_ERRORS,
    FieldError,
    apply_defaults,
    compile_schema,
)

_UNKNOWN = "unknown field (the collection does not allow extra fields)"
_DATE_TIME = "is not a valid date-time (ISO-8601, e.g. 2024-05-01T12:00:00Z)"
_DATE = "is not a valid date (YYYY-MM-DD, e.g. 2024-05-01)"
_EMAIL = "is not a valid email address (e.g. ada@example.com)"
_URI = "is not a valid URI (e.g. https://example.com/path)"


def _errors(schema: dict[str, Any], record: Any) -> list[tuple[str, str]]:
    validator = compile_schema(FieldSchema.model_validate(schema))
    return [(error.path, error.message) for error in validator.validate(record)]


# --------------------------------------------------------------------------- keywords, one by one


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        # type: integer accepts integral floats, never bools
        ({"type": "integer"}, 3, []),
        ({"type": "integer"}, 3.0, []),
        ({"type": "integer"}, -(10**30), []),
        ({"type": "integer"}, 3.5, ["expected integer, got number"]),
        ({"type": "integer"}, True, ["expected integer, got boolean"]),
        ({"type": "integer"}, "3", ["expected integer, got string"]),
        ({"type": "integer"}, math.inf, ["expected integer, got number"]),
        # number: ints and floats, not bools, finite only
        ({"type": "number"}, 3, []),
        ({"type": "number"}, 2.5, []),
        ({"type": "number"}, False, ["expected number, got boolean"]),
        ({"type": "number"}, None, ["expected number, got null"]),
        ({"type": "number"}, math.nan, ["must be a finite number"]),
        ({"type": "number"}, -math.inf, ["must be a finite number"]),
        # boolean, null, string, object, array
        ({"type": "boolean"}, False, []),
        ({"type": "boolean"}, 0, ["expected boolean, got integer"]),
        ({"type": "null"}, None, []),
        ({"type": "null"}, "", ["expected null, got string"]),
        ({"type": "string"}, "", []),
        ({"type": "string"}, 1.5, ["expected string, got number"]),
        ({"type": "string"}, b"x", ["expected string, got bytes"]),
        ({"type": "object"}, {}, []),
        ({"type": "object"}, [], ["expected object, got array"]),
        ({"type": "array"}, [], []),
        ({"type": "array"}, {}, ["expected array, got object"]),
        # a list of types means any of them
        ({"type": ["string", "null"]}, None, []),
        ({"type": ["string", "null"]}, "x", []),
        ({"type": ["string", "null"]}, 1, ["expected string or null, got integer"]),
        (
            {"type": ["string", "integer", "null"]},
            [],
            ["expected string, integer or null, got array"],
        ),
        ({"type": ["integer", "boolean"]}, True, []),
        # no type: anything
        ({}, {"any": ["thing"]}, []),
        # enum: JSON equality
        ({"enum": ["p1", "p2", "p3"]}, "p2", []),
        ({"enum": ["p1", "p2", "p3"]}, "p4", ["must be one of: p1, p2, p3"]),
        ({"enum": [1, 2]}, 1.0, []),
        ({"enum": [1.0]}, 1, []),
        ({"enum": [1, 2]}, True, ["must be one of: 1, 2"]),
        ({"enum": [True]}, 1, ["must be one of: true"]),
        ({"enum": [False, None]}, None, []),
        ({"enum": [0]}, False, ["must be one of: 0"]),
        ({"enum": [[1, {"a": True}]]}, [1.0, {"a": True}], []),
        ({"enum": [[1, {"a": True}]]}, [1, {"a": 1}], ['must be one of: [1, {"a": true}]']),
        ({"enum": [{"a": 1}]}, {"a": 1, "b": 2}, ['must be one of: {"a": 1}']),
        ({"enum": ["1"]}, 1, ["must be one of: 1"]),
        ({"type": "string", "enum": ["a"]}, 1, ["expected string, got integer"]),
        # minLength / maxLength count characters and apply to strings only
        ({"minLength": 2}, "ab", []),
        ({"minLength": 2}, "a", ["must be at least 2 characters"]),
        ({"minLength": 1}, "", ["must be at least 1 character"]),
        ({"maxLength": 200}, "x" * 200, []),
        ({"maxLength": 200}, "x" * 201, ["must be at most 200 characters"]),
        ({"maxLength": 2}, "éé", []),
        ({"maxLength": 1}, 12345, []),
        (
            {"minLength": 3, "maxLength": 1},
            "ab",
            ["must be at least 3 characters", "must be at most 1 character"],
        ),
        # minimum / maximum apply to numbers only
        ({"minimum": 0}, 0, []),
        ({"minimum": 0}, -1, ["must be >= 0"]),
        ({"minimum": 0}, -0.001, ["must be >= 0"]),
        ({"minimum": 1.5}, 1, ["must be >= 1.5"]),
        ({"maximum": 10}, 10.0, []),
        ({"maximum": 10}, 11, ["must be <= 10"]),
        ({"maximum": -2.25}, -2, ["must be <= -2.25"]),
        ({"maximum": 10}, 10**400, ["must be <= 10"]),
        ({"minimum": 0}, "-5", []),
        ({"minimum": 0}, False, []),
        ({"type": "integer", "minimum": 1, "maximum": 5}, 9, ["must be <= 5"]),
        # enum and range both reported
        ({"enum": [1, 2], "minimum": 3}, 1, ["must be >= 3"]),
        ({"enum": [5], "maximum": 3}, 4, ["must be one of: 5", "must be <= 3"]),
    ],
)
def test_keyword(schema: dict[str, Any], value: Any, expected: list[str]) -> None:
    assert _errors({"type": "object", "properties": {"f": schema}}, {"f": value}) == [
        ("f", message) for message in expected
    ]


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00z",
        "2024-05-01t12:00:00Z",
        "2024-05-01 12:00:00Z",
        "2024-05-01T12:00:00+02:00",
        "2024-05-01T12:00:00-0530",
        "2024-05-01T12:00:00.5Z",
        "2024-05-01T12:00:00.123456789+00:00",
        "2024-05-01T12:00Z",
        "2024-02-29T23:59:59+14:00",
    ],
)
def test_date_time_accepts(value: str) -> None:
    assert _errors({"properties": {"at": {"format": "date-time"}}}, {"at": value}) == []


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01",  # no time
        "2024-05-01T12:00:00",  # no time zone
        "2024-05-01T12:00:00 Z",
        "2024-05-01X12:00:00Z",
        "2024-05-01T25:00:00Z",
        "2023-02-29T12:00:00Z",
        "2024-13-01T12:00:00Z",
        "2024-05-01T12:00:00+24:00",
        "20240501T120000Z",  # basic format
        "2024-05-01T12:00:00Z\n",
        "٢٠٢٤-05-01T12:00:00Z",  # non-ASCII digits
        "yesterday",
        "",
    ],
)
def test_date_time_rejects(value: str) -> None:
    assert _errors({"properties": {"at": {"format": "date-time"}}}, {"at": value}) == [
        ("at", _DATE_TIME)
    ]


@pytest.mark.parametrize(
    ("fmt", "value", "message"),
    [
        ("date", "2024-05-01", None),
        ("date", "2024-02-29", None),
        ("date", "2023-02-29", _DATE),
        ("date", "2024-5-1", _DATE),
        ("date", "2024-05-01T00:00:00Z", _DATE),
        ("date", "20240501", _DATE),
        ("email", "ada@example.com", None),
        ("email", "first.last+tag@mail.example.co.uk", None),
        ("email", "ada@localhost", _EMAIL),
        ("email", "@example.com", _EMAIL),
        ("email", "ada@@example.com", _EMAIL),
        ("email", "a@b@example.com", _EMAIL),
        ("email", "ada lovelace@example.com", _EMAIL),
        ("email", "ada@example.", _EMAIL),
        ("email", "ada@.com", _EMAIL),
        ("email", "ada@example..com", _EMAIL),
        ("email", "", _EMAIL),
        ("uri", "https://example.com/path?q=1", None),
        ("uri", "mailto:ada@example.com", None),
        ("uri", "urn:isbn:0451450523", None),
        ("uri", "file:///etc/hosts", None),
        ("uri", "example.com/path", _URI),
        ("uri", "/relative/path", _URI),
        ("uri", "https://", _URI),
        ("uri", "mailto:", _URI),
        ("uri", "https://exa mple.com", _URI),
        ("uri", "http://[::1", _URI),
        ("uri", "", _URI),
        # formats apply to strings only
        ("email", 42, None),
        ("date", None, None),
    ],
)
def test_formats(fmt: str, value: Any, message: str | None) -> None:
    expected = [] if message is None else [("v", message)]
    assert _errors({"properties": {"v": {"format": fmt}}}, {"v": value}) == expected


# --------------------------------------------------------------------------- objects, arrays, paths


_TICKET: dict[str, Any] = {
    "type": "object",
    "required": ["title", "severity", "owner"],
    "additionalProperties": False,
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "severity": {"enum": ["p1", "p2", "p3"]},
        "priority": {"type": "integer", "minimum": 0, "maximum": 10, "default": 3},
        "score": {"type": ["number", "null"], "minimum": -1.5},
        "active": {"type": "boolean", "default": True},
        "opened_at": {"type": "string", "format": "date-time"},
        "due": {"type": "string", "format": "date"},
        "link": {"type": "string", "format": "uri"},
        "owner": {
            "type": "object",
            "required": ["email"],
            "properties": {
                "email": {"type": "string", "format": "email"},
                "name": {"type": "string", "maxLength": 80},
                "team": {"type": "string", "default": "core"},
            },
        },
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "watchers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "muted": {"type": "boolean", "default": False},
                },
            },
        },
        "meta": {"type": "object"},
    },
}
_GOOD_TICKET: dict[str, Any] = {
    "title": "Database down",
    "severity": "p1",
    "priority": 1,
    "score": None,
    "active": True,
    "opened_at": "2024-05-01T12:00:00Z",
    "due": "2024-05-02",
    "link": "https://status.example.com/incidents/1",
    "owner": {"email": "ada@example.com", "name": "Ada"},
    "tags": ["db", "prod"],
    "labels": {"region": "eu"},
    "watchers": [{"id": 1}, {"id": 2, "muted": True}],
    "meta": {"anything": [1, {"goes": None}]},
}
_TICKET_VALIDATOR = compile_schema(FieldSchema.model_validate(_TICKET))


def _ticket(**changes: Any) -> dict[str, Any]:
    record = dict(_GOOD_TICKET)
    for key, value in changes.items():
        if value is _DROP:
            record.pop(key)
        else:
            record[key] = value
    return record


_DROP = object()


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (_ticket(), []),
        (_ticket(title=_DROP), [("title", "is required")]),
        (_ticket(priority=_DROP, score=_DROP, tags=_DROP), []),
        (_ticket(title=None), [("title", "expected string, got null")]),
        (_ticket(title="x" * 201), [("title", "must be at most 200 characters")]),
        (_ticket(severity="p0"), [("severity", "must be one of: p1, p2, p3")]),
        (_ticket(priority=-1), [("priority", "must be >= 0")]),
        (_ticket(score=-2), [("score", "must be >= -1.5")]),
        (_ticket(opened_at="2024-05-01"), [("opened_at", _DATE_TIME)]),
        (_ticket(extra=1), [("extra", _UNKNOWN)]),
        (_ticket(owner={}), [("owner.email", "is required")]),
        (_ticket(owner={"email": "nope"}), [("owner.email", _EMAIL)]),
        (
            _ticket(owner={"email": "a@b.co", "nick": "x"}),
            [],  # owner allows extra fields (additionalProperties absent)
        ),
        (_ticket(owner="ada"), [("owner", "expected object, got string")]),
        (
            _ticket(tags=["ok", 5, "x" * 21]),
            [
                ("tags.1", "expected string, got integer"),
                ("tags.2", "must be at most 20 characters"),
            ],
        ),
        (
            _ticket(labels={"region": "eu", "tier": 1}),
            [("labels.tier", "expected string, got integer")],
        ),
        (
            _ticket(watchers=[{"id": 1}, {}, {"id": 0, "x": 1}]),
            [
                ("watchers.1.id", "is required"),
                ("watchers.2.id", "must be >= 1"),
                ("watchers.2.x", _UNKNOWN),
            ],
        ),
        (_ticket(meta=[]), [("meta", "expected object, got array")]),
        ([], [("", "expected object, got array")]),
        (None, [("", "expected object, got null")]),
        ({}, [("owner", "is required"), ("severity", "is required"), ("title", "is required")]),
    ],
)
def test_ticket(record: Any, expected: list[tuple[str, str]]) -> None:
    got = _TICKET_VALIDATOR.validate(record)
    assert [(error.path, error.message) for error in got] == expected


def test_all_errors_at_once_sorted_by_path() -> None:
    record = {
        "zeta": 1,
        "title": "",
        "severity": 1,
        "owner": {"email": "ada"},
        "tags": ["x" * 21 for _ in range(12)],
        "alpha": 2,
    }
    expected = [
        ("alpha", _UNKNOWN),
        ("owner.email", _EMAIL),
        ("severity", "must be one of: p1, p2, p3"),
        *[(f"tags.{index}", "must be at most 20 characters") for index in range(12)],
        ("title", "must be at least 1 character"),
        ("zeta", _UNKNOWN),
    ]
    assert _errors(_TICKET, record) == expected  # tags.2 before tags.10


def test_errors_are_capped() -> None:
    errors = _TICKET_VALIDATOR.validate(_ticket(tags=list(range(1000))))
    assert len(errors) == MAX_ERRORS
    assert errors == sorted(errors, key=lambda e: int(e.path.split(".")[1]))
    assert errors[0] == FieldError("tags.0", "expected string, got integer")


def test_several_problems_on_one_field_keep_their_order() -> None:
    schema = {"properties": {"v": {"minLength": 30, "format": "email"}}}
    assert _errors(schema, {"v": "nope"}) == [
        ("v", "must be at least 30 characters"),
        ("v", _EMAIL),
    ]


def test_messages_never_show_long_values() -> None:
    long_values = ["x" * 100, {"nested": ["y" * 100]}, 10**100]
    schema = {"properties": {"v": {"enum": long_values}}}
    [(path, message)] = _errors(schema, {"v": "other"})
    assert path == "v"
    assert message.startswith("must be one of: ")
    for shown in message.removeprefix("must be one of: ").split(", "):
        assert len(shown) <= 40
    assert ("x" * 37 + "...") in message


def test_many_enum_values_are_abbreviated() -> None:
    [(_, message)] = _errors({"properties": {"v": {"enum": list(range(25))}}}, {"v": 99})
    assert message == "must be one of: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 ... (15 more)"


def test_field_error_reads_well() -> None:
    assert str(FieldError("owner.email", "is required")) == "owner.email: is required"
    assert str(FieldError("", "expected object, got array")) == "expected object, got array"
    with pytest.raises(AttributeError):
        FieldError("a", "b").path = "c"  # type: ignore[misc]


def test_validator_is_reusable_and_independent_of_the_record() -> None:
    first = _TICKET_VALIDATOR.validate({"title": "t"})
    second = _TICKET_VALIDATOR.validate({"title": "t"})
    assert first == second
    assert first is not second


# --------------------------------------------------------------------------- depth


def _nested_schema(depth: int) -> FieldSchema:
    schema = FieldSchema(type="string")
    for _ in range(depth):
        schema = FieldSchema(type="object", properties={"a": schema})
    return schema


def _nested_record(depth: int, leaf: Any) -> Any:
    record = leaf
    for _ in range(depth):
        record = {"a": record}
    return record


def test_nesting_within_the_limit_is_checked() -> None:
    validator = compile_schema(_nested_schema(MAX_DEPTH))
    path = ".".join(["a"] * MAX_DEPTH)
    assert validator.validate(_nested_record(MAX_DEPTH, "ok")) == []
    assert validator.validate(_nested_record(MAX_DEPTH, 1)) == [
        FieldError(path, "expected string, got integer")
    ]


def test_nesting_beyond_the_limit_is_an_error_not_a_crash() -> None:
    validator = compile_schema(_nested_schema(200))
    path = ".".join(["a"] * (MAX_DEPTH + 1))
    assert validator.validate(_nested_record(200, "ok")) == [FieldError(path, "nested too deeply")]
    assert validator.validate(_nested_record(10, {})) == []


def test_deep_records_are_only_walked_as_far_as_the_schema_goes() -> None:
    record = _nested_record(100_000, None)
    assert _TICKET_VALIDATOR.validate(_ticket(meta=record)) == []
    filled = _TICKET_VALIDATOR.apply_defaults(_ticket(meta=record, priority=_DROP))
    assert filled["priority"] == 3


# --------------------------------------------------------------------------- defaults


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # top-level defaults fill absent fields only
        (
            {"title": "t"},
            {"title": "t", "priority": 3, "active": True},
        ),
        (
            {"priority": 7, "active": False},
            {"priority": 7, "active": False},
        ),
        # a present null is not absent
        ({"priority": None}, {"priority": None, "active": True}),
        # nested objects get their defaults when they exist ...
        (
            {"owner": {"email": "a@b.co"}},
            {"owner": {"email": "a@b.co", "team": "core"}, "priority": 3, "active": True},
        ),
        # ... and are not created when they don't
        ({"owner": None}, {"owner": None, "priority": 3, "active": True}),
        # objects inside arrays too
        (
            {"watchers": [{"id": 1}, {"id": 2, "muted": True}, "junk"]},
            {
                "watchers": [{"id": 1, "muted": False}, {"id": 2, "muted": True}, "junk"],
                "priority": 3,
                "active": True,
            },
        ),
    ],
)
def test_apply_defaults(record: dict[str, Any], expected: dict[str, Any]) -> None:
    schema = FieldSchema.model_validate(_TICKET)
    assert apply_defaults(record, schema) == expected
    assert _TICKET_VALIDATOR.apply_defaults(record) == expected


def test_apply_defaults_returns_a_copy_and_copies_defaults() -> None:
    schema = FieldSchema.model_validate(
        {
            "properties": {
                "tags": {"type": "array", "default": ["new"]},
                "owner": {
                    "type": "object",
                    "default": {},
                    "properties": {"team": {"default": "core"}, "none": {"default": None}},
                },
                "nothing": {"type": "string"},
            }
        }
    )
    validator = compile_schema(schema)
    record: dict[str, Any] = {"nested": {"list": [1]}}
    first = validator.apply_defaults(record)
    assert first == {
        "nested": {"list": [1]},
        "tags": ["new"],
        "owner": {"team": "core", "none": None},  # an object default gets its own defaults
    }
    assert record == {"nested": {"list": [1]}}
    first["tags"].append("mutated")
    first["nested"]["list"].append(2)
    assert record == {"nested": {"list": [1]}}
    assert validator.apply_defaults({})["tags"] == ["new"]
    assert schema.properties is not None
    assert schema.properties["tags"].default == ["new"]


def test_apply_defaults_without_defaults_is_a_plain_copy() -> None:
    schema = FieldSchema.model_validate({"properties": {"a": {"type": "string"}}})
    record = {"a": "x", "b": [{"c": 1}]}
    result = apply_defaults(record, schema)
    assert result == record
    assert result is not record
    assert result["b"] is not record["b"]


# --------------------------------------------------------------------------- properties

_json: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["p1", "2024-05-01T12:00:00Z", "2024-05-01", "a@b.co", "https://x.y"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(sorted(_TICKET["properties"]))
            | st.sampled_from(["id", "email"])
            | st.text(max_size=5),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def _assert_well_formed(errors: list[FieldError]) -> None:
    assert len(errors) <= MAX_ERRORS
    for error in errors:
        assert isinstance(error, FieldError)
        assert error.message
    assert errors == sorted(errors, key=_sort_key)


def _sort_key(error: FieldError) -> list[tuple[int, int | str]]:
    if not error.path:
        return []
    return [
        (0, int(part)) if part.isdecimal() and part.isascii() else (1, part)
        for part in error.path.split(".")
    ]


@settings(max_examples=300, deadline=None)
@given(_json)
def test_random_json_never_raises(value: Any) -> None:
    _assert_well_formed(_TICKET_VALIDATOR.validate(value))
    _assert_well_formed(_TICKET_VALIDATOR.validate({**_GOOD_TICKET, "owner": value}))
    if isinstance(value, dict):
        filled = _TICKET_VALIDATOR.apply_defaults(value)
        assert filled.keys() >= value.keys()
        undeclared = [key for key in value if key not in _TICKET["properties"]]
        assert [filled[key] for key in undeclared] == [value[key] for key in undeclared]


def _valid(schema: FieldSchema) -> st.SearchStrategy[Any]:
    """Records that satisfy ``schema`` (for the subset the fixed schemas here use)."""
    if schema.enum is not None:
        return st.sampled_from(schema.enum)
    types = [schema.type] if isinstance(schema.type, str) else schema.type or ["string"]
    return st.one_of([_valid_of(kind, schema) for kind in types])


_FORMAT_VALUES: dict[str, st.SearchStrategy[str]] = {
    "date-time": st.builds(
        lambda moment, zulu: (
            moment.isoformat().replace("+00:00", "Z") if zulu else moment.isoformat()
        ),
        st.datetimes(timezones=st.just(UTC)),
        st.booleans(),
    ),
    "date": st.dates().map(lambda day: day.isoformat()),
    "email": st.from_regex(r"[a-z0-9.+_-]{1,10}@[a-z0-9-]{1,10}\.[a-z]{2,5}", fullmatch=True),
    "uri": st.from_regex(
        r"(https?|ftp)://[a-z0-9]{1,10}(\.[a-z]{2,4})?(/[a-z0-9]{0,5}){0,3}", fullmatch=True
    ),
}


def _valid_of(kind: str, schema: FieldSchema) -> st.SearchStrategy[Any]:
    low = schema.minimum
    high = schema.maximum
    if kind == "string":
        if schema.format is not None:
            return _FORMAT_VALUES[schema.format]
        return st.text(min_size=schema.minLength or 0, max_size=schema.maxLength)
    if kind == "integer":
        return st.integers(
            None if low is None else math.ceil(low), None if high is None else math.floor(high)
        )
    if kind == "number":
        return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
            None if low is None else math.ceil(low), None if high is None else math.floor(high)
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = _valid(schema.items) if schema.items is not None else _json
        return st.lists(items, max_size=4)
    properties = schema.properties or {}
    required = set(schema.required or ())
    fixed = st.fixed_dictionaries(
        {name: _valid(child) for name, child in properties.items() if name in required},
        optional={
            name: _valid(child) for name, child in properties.items() if name not in required
        },
    )
    extra = schema.additionalProperties
    if extra is False:
        return fixed
    extra_values = _valid(extra) if isinstance(extra, FieldSchema) else _json
    extras = st.dictionaries(
        st.text(max_size=6).filter(lambda key: key not in properties), extra_values, max_size=3
    )
    return st.builds(lambda a, b: {**b, **a}, fixed, extras)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_valid(FieldSchema.model_validate(_TICKET)))
def test_valid_records_always_pass(record: dict[str, Any]) -> None:
    assert _TICKET_VALIDATOR.validate(record) == []
    filled = _TICKET_VALIDATOR.apply_defaults(record)
    assert _TICKET_VALIDATOR.validate(filled) == []
    assert filled["priority"] == record.get("priority", 3)


# Random schemas of the subset (no formats, which jsonschema does not check by default) agree
# with the reference implementation on what is valid.

_TYPES = ["object", "string", "number", "integer", "boolean", "array", "null"]
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, 1.0, 1.5, -2.5])
    | st.text(alphabet="ab", max_size=3)
)
_values: st.SearchStrategy[Any] = st.recursive(
    _scalar,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet="abc", max_size=2), children, max_size=4)
    ),
    max_leaves=12,
)
_bounds = st.integers(-3, 3) | st.sampled_from([0.5, -1.5, 2.0])
_leaf_schema = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(_TYPES)
        | st.lists(st.sampled_from(_TYPES), min_size=1, max_size=3, unique=True),
        "enum": st.lists(_values, min_size=1, max_size=3),
        "minimum": _bounds,
        "maximum": _bounds,
        "minLength": st.integers(0, 3),
        "maxLength": st.integers(0, 3),
    },
)


@st.composite
def _with_children(draw: st.DrawFn, children: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    schema: dict[str, Any] = dict(draw(_leaf_schema))
    properties = draw(st.dictionaries(st.text(alphabet="abc", max_size=2), children, max_size=3))
    if properties:
        schema["properties"] = properties
        schema["required"] = [name for name in properties if draw(st.booleans())]
    extra = draw(st.none() | st.booleans() | children)
    if extra is not None:
        schema["additionalProperties"] = extra
    if draw(st.booleans()):
        schema["items"] = draw(children)
    return schema


_schemas = st.recursive(_leaf_schema, _with_children, max_leaves=6)


@settings(max_examples=500, deadline=None)
@given(_schemas, _values)
def test_agrees_with_the_reference_implementation(schema: dict[str, Any], value: Any) -> None:
    errors = compile_schema(FieldSchema.model_validate(schema)).validate(value)
    _assert_well_formed(errors)
    assert (errors == []) == jsonschema.Draft202012Validator(schema).is_valid(value), errors


@settings(max_examples=300, deadline=None)
@given(
    _schemas.map(
        lambda schema: {
            **schema,
            "properties": {
                "f": {"format": "email"},
                "d": {"format": "date-time"},
                "u": {"format": "uri"},
                "x": {"format": "date"},
            },
        }
    ),
    _json,
)
def test_random_schemas_and_values_never_raise(schema: dict[str, Any], value: Any) -> None:
    schema.pop("required", None)
    validator = compile_schema(FieldSchema.model_validate(schema))
    _assert_well_formed(validator.validate(value))
    _assert_well_formed(validator.validate(dict.fromkeys(("f", "d", "u", "x"), value)))
    if isinstance(value, dict):
        validator.apply_defaults(value)
