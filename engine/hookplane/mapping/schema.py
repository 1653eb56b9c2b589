"""Record validation: a collection's schema compiled to a fast validator.

A collection's schema is compiled once (:func:`compile_schema`, at runtime reload) into a
tree of closures, one per schema node, that hold everything precomputed: the allowed types,
the enum lookup set, the message texts. :meth:`RecordValidator.validate` then walks the
record along that tree only -- parts of a record the schema says nothing about are never
visited -- so the work is bounded by the record's size and the schema's depth.

Semantics are JSON's, not Python's: ``integer`` accepts ``3`` and ``3.0`` but not ``True``;
``number`` accepts ints and floats but not bools; enum comparison is JSON equality
(``1 == 1.0``, ``true != 1``). Keywords apply only to values of their kind (``minLength`` to
strings, ``properties`` to objects ...), as in JSON Schema; a value of the wrong ``type``
gets that one error and no more.

Errors come back as :class:`FieldError` ``(path, message)`` with dot paths (``owner.email``,
``tags.2``, ``""`` for the record itself), sorted by path (numeric segments numerically),
at most :data:`MAX_ERRORS` of them. Nothing here raises for any input.

Pure: the standard library only; the schema is read through
:class:`~hookplane.mapping._specs.FieldSchemaSpec` (config's ``FieldSchema``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from hookplane.mapping._specs import FieldSchemaSpec
from hookplane.mapping._values import type_name

__all__ = [
    "MAX_DEPTH",
    "MAX_ERRORS",
    "FieldError",
    "RecordValidator",
    "apply_defaults",
    "compile_schema",
]

MAX_ERRORS: Final = 50
"""At most this many errors are reported for one record (validation stops there)."""

MAX_DEPTH: Final = 64
"""Values nested deeper than this are reported as ``"nested too deeply"``, not inspected."""

_MAX_SHOWN = 40  # the longest value text a message may contain
_MAX_ENUM_SHOWN = 10  # enum values listed in a message before "... (N more)"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with a record: where (dot path, ``""`` = the record) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class _Full(Exception):
    """Raised inside a walk when :data:`MAX_ERRORS` errors have been collected."""


class _Sink:
    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))
        if len(self.errors) >= MAX_ERRORS:
            raise _Full


_Check = Callable[[Any, str, _Sink], None]
"""Validates one value found at ``path``, adding errors to the sink."""
_Fill = Callable[[Any], None]
"""Fills declared defaults into one (already copied) value, in place."""


# --------------------------------------------------------------------------- values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_equal(left: Any, right: Any) -> bool:
    """Equality with JSON types: ``true != 1``, ``1 == 1.0``, containers compared deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(
            _json_equal(item, right[key]) for key, item in left.items()
        )
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            _json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return False
    try:
        return type(left) is type(right) and bool(left == right)
    except Exception:
        return False


def _enum_key(value: Any) -> Hashable | None:
    """A hashable key under which JSON-equal scalars collide; None for containers."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", value)  # 1 and 1.0 hash and compare equal
    if isinstance(value, str):
        return ("str", str(value))
    return None


def _shown(value: Any) -> str:
    """How a value reads in a message: strings as-is, the rest as JSON, at most 40 chars."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except Exception:
            text = type(value).__name__
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _bound(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return _shown(value)


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data, without recursion (any depth) and keeping cycles."""
    if not isinstance(value, dict | list):
        return value
    memo: dict[int, Any] = {}

    def fresh(source: Any) -> Any:
        found = memo.get(id(source))
        if found is None:
            found = {} if isinstance(source, dict) else []
            memo[id(source)] = found
            stack.append((source, found))
        return found

    stack: list[tuple[Any, Any]] = []
    root = fresh(value)
    while stack:
        source, target = stack.pop()
        if isinstance(source, dict):
            for key, item in source.items():
                target[key] = fresh(item) if isinstance(item, dict | list) else item
        else:
            target.extend(fresh(item) if isinstance(item, dict | list) else item for item in source)
    return root


# --------------------------------------------------------------------------- formats

_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SPACE = re.compile(r"\s")


def _is_date_time(text: str) -> bool:
    if len(text) > 64 or _DATE_TIME.fullmatch(text) is None:
        return False
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text[:10] + "T" + text[11:])
    except (ValueError, OverflowError):
        return False
    return parsed.tzinfo is not None


def _is_date(text: str) -> bool:
    if _DATE.fullmatch(text) is None:
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_email(text: str) -> bool:
    if len(text) > 254 or text.count("@") != 1 or _SPACE.search(text):
        return False
    local, domain = text.split("@")
    return bool(local) and "." in domain and all(domain.split("."))


def _is_uri(text: str) -> bool:
    if _SPACE.search(text):
        return False
    try:
        scheme = urlsplit(text).scheme
    except ValueError:
        return False
    rest = text[len(scheme) + 1 :].lstrip("/")
    return bool(scheme) and text[len(scheme) : len(scheme) + 1] == ":" and bool(rest)


_FORMATS: dict[str, tuple[Callable[[str], bool], str]] = {
    "date-time": (
        _is_date_time,
        "is not a valid date-time (ISO-8601, e.g. 2024-05-01T12:00:00Z)",
    ),
    "date": (_is_date, "is not a valid date (YYYY-MM-DD, e.g. 2024-05-01)"),
    "email": (_is_email, "is not a valid email address (e.g. ada@example.com)"),
    "uri": (_is_uri, "is not a valid URI (e.g. https://example.com/path)"),
}


# --------------------------------------------------------------------------- compiling


def _type_test(types: tuple[str, ...]) -> Callable[[Any], bool]:
    allowed = frozenset(types)
    integer, number = "integer" in allowed, "number" in allowed

    def matches(value: Any) -> bool:
        if isinstance(value, bool):
            return "boolean" in allowed
        if isinstance(value, int):
            return integer or number
        if isinstance(value, float):
            return number or (integer and value.is_integer())
        if isinstance(value, str):
            return "string" in allowed
        if value is None:
            return "null" in allowed
        if isinstance(value, dict):
            return "object" in allowed
        if isinstance(value, list):
            return "array" in allowed
        return False

    return matches


def _either(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _enum_test(values: Sequence[Any]) -> tuple[Callable[[Any], bool], str]:
    keys: set[Hashable] = set()
    others: list[Any] = []
    for value in values:
        key = _enum_key(value)
        if key is None:
            others.append(value)
        else:
            keys.add(key)

    def allowed(value: Any) -> bool:
        key = _enum_key(value)
        if key is not None:
            return key in keys
        return any(_json_equal(value, other) for other in others)

    shown = [_shown(value) for value in values[:_MAX_ENUM_SHOWN]]
    more = len(values) - len(shown)
    return allowed, "must be one of: " + ", ".join(shown) + (f" ... ({more} more)" if more else "")


def _characters(count: int) -> str:
    return "1 character" if count == 1 else f"{count} characters"


def _string_check(schema: FieldSchemaSpec) -> _Check | None:
    low, high = schema.minLength, schema.maxLength
    fmt = _FORMATS.get(schema.format) if schema.format else None
    if low is None and high is None and fmt is None:
        return None
    low_msg = f"must be at least {_characters(low)}" if low is not None else ""
    high_msg = f"must be at most {_characters(high)}" if high is not None else ""

    def check(value: str, path: str, sink: _Sink) -> None:
        if low is not None and len(value) < low:
            sink.add(path, low_msg)
        if high is not None and len(value) > high:
            sink.add(path, high_msg)
        if fmt is not None and not fmt[0](value):
            sink.add(path, fmt[1])

    return check


def _number_check(schema: FieldSchemaSpec, types: tuple[str, ...]) -> _Check | None:
    low, high = schema.minimum, schema.maximum
    finite = low is not None or high is not None or "number" in types or "integer" in types
    if not finite:
        return None
    low_msg = f"must be >= {_bound(low)}" if low is not None else ""
    high_msg = f"must be <= {_bound(high)}" if high is not None else ""

    def check(value: float, path: str, sink: _Sink) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            sink.add(path, "must be a finite number")
            return
        if low is not None and value < low:
            sink.add(path, low_msg)
        if high is not None and value > high:
            sink.add(path, high_msg)

    return check


_UNKNOWN = "unknown field (the collection does not allow extra fields)"


@dataclass(frozen=True, slots=True)
class _Node:
    check: _Check | None  # None: every value is valid here
    fill: _Fill | None  # None: no defaults at or below this node


@dataclass(frozen=True, slots=True)
class _Children:
    properties: dict[str, _Node]
    extra: _Node | None  # additionalProperties given as a schema
    items: _Node | None


def _too_deep(value: Any, path: str, sink: _Sink) -> None:
    sink.add(path, "nested too deeply")


_TOO_DEEP = _Node(_too_deep, None)


def _compile(schema: FieldSchemaSpec, depth: int) -> _Node:
    """One schema node, its children compiled once and shared by the check and the fill."""
    if depth > MAX_DEPTH:
        return _TOO_DEEP
    extra, items = schema.additionalProperties, schema.items
    children = _Children(
        properties={
            name: _compile(child, depth + 1) for name, child in (schema.properties or {}).items()
        },
        extra=None if isinstance(extra, bool) or extra is None else _compile(extra, depth + 1),
        items=_compile(items, depth + 1) if items is not None else None,
    )
    return _Node(_node_check(schema, children), _node_fill(schema, children))


def _object_check(schema: FieldSchemaSpec, children: _Children) -> _Check | None:
    known = frozenset(children.properties)
    required = tuple(schema.required or ())
    checks = tuple(
        (name, node.check) for name, node in children.properties.items() if node.check is not None
    )
    forbid = schema.additionalProperties is False
    extra_check = children.extra.check if children.extra is not None else None
    if not (required or checks or forbid or extra_check):
        return None

    def check(value: dict[Any, Any], path: str, sink: _Sink) -> None:
        prefix = path + "." if path else ""
        for name in required:
            if name not in value:
                sink.add(prefix + name, "is required")
        for name, child in checks:
            if name in value:
                child(value[name], prefix + name, sink)
        if forbid:
            if not known.issuperset(value):
                for key in value:
                    if key not in known:
                        sink.add(prefix + str(key), _UNKNOWN)
        elif extra_check is not None:
            for key, item in value.items():
                if key not in known:
                    extra_check(item, prefix + str(key), sink)

    return check


def _array_check(children: _Children) -> _Check | None:
    item_check = children.items.check if children.items is not None else None
    if item_check is None:
        return None

    def check(value: list[Any], path: str, sink: _Sink) -> None:
        prefix = path + "." if path else ""
        for index, item in enumerate(value):
            item_check(item, f"{prefix}{index}", sink)

    return check


def _node_check(schema: FieldSchemaSpec, children: _Children) -> _Check | None:
    raw = schema.type
    types = tuple(dict.fromkeys([raw] if isinstance(raw, str) else raw or []))
    type_ok = _type_test(types) if types else None
    expected = f"expected {_either(types)}, got " if types else ""
    enum_ok, enum_msg = _enum_test(schema.enum) if schema.enum else (None, "")
    on_string = _string_check(schema)
    on_number = _number_check(schema, types)
    on_object = _object_check(schema, children)
    on_array = _array_check(children)
    if not (type_ok or enum_ok or on_string or on_number or on_object or on_array):
        return None

    def check(value: Any, path: str, sink: _Sink) -> None:
        if type_ok is not None and not type_ok(value):
            sink.add(path, expected + type_name(value))
            return
        if enum_ok is not None and not enum_ok(value):
            sink.add(path, enum_msg)
        if isinstance(value, str):
            if on_string is not None:
                on_string(value, path, sink)
        elif isinstance(value, dict):
            if on_object is not None:
                on_object(value, path, sink)
        elif isinstance(value, list):
            if on_array is not None:
                on_array(value, path, sink)
        elif on_number is not None and _is_number(value):
            on_number(value, path, sink)

    return check


def _node_fill(schema: FieldSchemaSpec, children: _Children) -> _Fill | None:
    properties = schema.properties or {}
    defaults = tuple(
        (name, child.default)
        for name, child in properties.items()
        if "default" in child.model_fields_set
    )
    fills = tuple(
        (name, node.fill) for name, node in children.properties.items() if node.fill is not None
    )
    known = frozenset(properties)
    extra_fill = children.extra.fill if children.extra is not None else None
    item_fill = children.items.fill if children.items is not None else None
    if not (defaults or fills or extra_fill or item_fill):
        return None

    def fill(value: Any) -> None:
        if isinstance(value, dict):
            for name, default in defaults:
                if name not in value:
                    value[name] = _copy(default)
            for name, child in fills:
                if name in value:
                    child(value[name])
            if extra_fill is not None:
                for key, item in value.items():
                    if key not in known:
                        extra_fill(item)
        elif isinstance(value, list) and item_fill is not None:
            for item in value:
                item_fill(item)

    return fill


# --------------------------------------------------------------------------- public API


def _path_key(error: FieldError) -> list[tuple[int, int | str]]:
    return (
        [
            (0, int(part)) if part.isdecimal() and part.isascii() else (1, part)
            for part in error.path.split(".")
        ]
        if error.path
        else []
    )


class RecordValidator:
    """A compiled collection schema; build once with :func:`compile_schema`, call per write."""

    __slots__ = ("_check", "_fill")

    def __init__(self, root: _Node) -> None:
        self._check = root.check
        self._fill = root.fill

    def validate(self, record: Any) -> list[FieldError]:
        """Every problem with ``record`` (at most :data:`MAX_ERRORS`), sorted by path.

        An empty list means the record is valid. Never raises.
        """
        if self._check is None:
            return []
        sink = _Sink()
        try:
            self._check(record, "", sink)
        except _Full:
            pass
        except RecursionError:  # only a pathological (e.g. self-referencing) enum value
            sink.errors[MAX_ERRORS - 1 :] = [FieldError("", "nested too deeply")]
        if len(sink.errors) > 1:
            sink.errors.sort(key=_path_key)
        return sink.errors

    def apply_defaults(self, record: dict[str, Any]) -> dict[str, Any]:
        """A deep copy of ``record`` with declared ``default``s filled in where absent.

        Defaults fill absent properties of every object present in the record (the record
        itself, nested objects, objects inside arrays); a filled-in object default gets its
        own properties' defaults too. Missing parent objects are not created.
        """
        result: dict[str, Any] = _copy(record)
        if self._fill is not None and isinstance(result, dict):
            self._fill(result)
        return result


def compile_schema(schema: FieldSchemaSpec) -> RecordValidator:
    """Compile ``schema`` into a reusable validator (all per-node work done here, once)."""
    return RecordValidator(_compile(schema, 0))


def apply_defaults(record: dict[str, Any], schema: FieldSchemaSpec) -> dict[str, Any]:
    """A copy of ``record`` with ``schema``'s defaults filled in (see
    :meth:`RecordValidator.apply_defaults`; prefer that on a hot path)."""
    return compile_schema(schema).apply_defaults(record)
