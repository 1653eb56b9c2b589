"""JSON value helpers shared by the mapping engine, the templates and the filters."""

from __future__ import annotations

import json
from typing import Any

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True, default=str)


def is_number(value: Any) -> bool:
    """An int or a float, but not a bool (JSON has no 1 == true)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_equal(left: Any, right: Any) -> bool:
    """Equality with JSON types: ``true != 1``, ``1 == 1.0``, containers compared deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            json_equal(value, right[key]) for key, value in left.items()
        )
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return bool(left == right)


def json_copy(value: Any) -> Any:
    """A deep copy of JSON-like data (dicts and lists rebuilt, other values shared).

    About three times faster than :func:`copy.deepcopy` on parsed JSON; raises
    :class:`RecursionError` on absurdly deep nesting.
    """
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_copy(item) for item in value]
    return value


def compact_json(value: Any) -> str:
    """Compact JSON text (``{"a":1}``); non-JSON values are written as their ``str()``."""
    return _COMPACT.encode(value)


def as_text(value: Any) -> str:
    """How a value reads inside text: None -> "", strings as-is, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | dict | list):
        return compact_json(value)
    return str(value)


def short_repr(value: Any, *, limit: int = 100) -> str:
    """``repr`` of a value for an error message, or a placeholder when it is long."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return "<integer>"  # repr() of a huge int is slow, and refused past 4300 digits
    if isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
        if len(text) <= limit:
            return text
    if isinstance(value, str):
        return f"<text of {len(value)} characters>"
    return f"<{type(value).__name__}>"


def type_name(value: Any) -> str:
    """The JSON type name of a value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__
