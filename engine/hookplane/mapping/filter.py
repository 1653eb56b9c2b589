"""Trigger filters: which records a trigger fires for.

A filter maps field paths (dot notation) to conditions; every condition must hold::

    {severity: p1}                          # equality
    {severity: [p1, p2]}                    # one of
    {priority: {gte: 2, lt: 5}}             # operators (all must hold)
    {assignee: {exists: false}}

A field path is written as in templates (:func:`~hookplane.mapping.template.is_field_path`):
names of letters, digits, ``_`` and ``-``, or list indexes, separated by dots.

Operators: ``eq``, ``ne``, ``in``, ``not_in`` (a list), ``exists`` (a boolean), ``gt``,
``gte``, ``lt``, ``lte``. Values compare as JSON: ``true`` is not ``1``, ``1`` equals
``1.0``. An ordering operator only compares two numbers or two strings; any other pairing
(a missing field, null, a number against a string) makes the condition false -- evaluating
a filter never raises.

A missing field equals nothing (not even ``null``; use ``exists: false``), is in no list,
and so satisfies ``ne`` and ``not_in``. ``exists: true`` holds for a field that is
present, even when its value is ``null``. An empty filter matches every record. A dict
value always holds operators: to test a nested field, use its dot path.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from hookplane.errors import MappingError
from hookplane.mapping._values import is_number, json_equal
from hookplane.mapping.paths import MISSING, get_path, split_path
from hookplane.mapping.template import is_field_path

__all__ = [
    "FILTER_OPERATORS",
    "FilterProblem",
    "compile_filter",
    "filter_fields",
    "filter_problems",
    "validate_filter",
]

FILTER_OPERATORS: Final = ("eq", "ne", "in", "not_in", "exists", "gt", "gte", "lt", "lte")
_ORDERING = frozenset({"gt", "gte", "lt", "lte"})
_LISTS = frozenset({"in", "not_in"})
_SCALARS = (str, int, float, bool, type(None))


def _conditions(condition: Any) -> list[tuple[str, Any]]:
    """The (operator, operand) pairs a condition stands for (unchecked)."""
    if isinstance(condition, dict):
        return list(condition.items())
    if isinstance(condition, list):
        return [("in", condition)]
    return [("eq", condition)]


@dataclass(frozen=True, slots=True)
class FilterProblem:
    """One problem with a filter: the ``field`` key it is about (None for the whole filter)
    and the ``reason``, which does not repeat the field (configuration validation positions
    it at the key); ``str()`` gives the sentence with the field."""

    field: Any
    reason: str

    def __str__(self) -> str:
        if self.field is None:
            return self.reason
        shown = f"'{self.field}'" if isinstance(self.field, str) else repr(self.field)
        return f"filter field {shown}: {self.reason}"


def _operator_problem(operator: Any, operand: Any) -> str | None:
    if operator not in FILTER_OPERATORS:
        guess = difflib.get_close_matches(str(operator), FILTER_OPERATORS, n=1, cutoff=0.5)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        return (
            f"unknown filter operator '{operator}'{hint}; operators are "
            + ", ".join(FILTER_OPERATORS)
        )
    if operator in _LISTS and not isinstance(operand, list):
        return f"'{operator}' needs a list of values, e.g. {operator}: [p1, p2]"
    if operator == "exists" and not isinstance(operand, bool):
        return "'exists' needs true or false"
    if operator in _ORDERING and not (is_number(operand) or isinstance(operand, str)):
        return f"'{operator}' compares with a number or a string"
    return None


def filter_problems(spec: Any) -> list[FilterProblem]:
    """Every problem with a filter spec, each with the field it is about; empty when the
    filter is valid. The one rule set: configuration validation reports these with
    positions, :func:`compile_filter` refuses a filter that has any."""
    if not isinstance(spec, dict):
        return [
            FilterProblem(
                None, "a filter is a mapping of field paths to conditions, e.g. {severity: p1}"
            )
        ]
    problems: list[FilterProblem] = []
    for path, condition in spec.items():
        if not isinstance(path, str) or not is_field_path(path):
            problems.append(
                FilterProblem(
                    path,
                    f"'{path}' is not a field path: use names (letters, digits, '_', '-') "
                    "separated by dots, e.g. severity or owner.name",
                )
            )
            continue
        if isinstance(condition, dict) and not condition:
            problems.append(
                FilterProblem(
                    path,
                    "no condition; give a value, a list of values, or operators such as "
                    "{ne: closed}",
                )
            )
            continue
        if not isinstance(condition, (dict, list, *_SCALARS)):
            problems.append(
                FilterProblem(
                    path,
                    "a condition is a value, a list or operators, not "
                    f"{type(condition).__name__}",
                )
            )
            continue
        for operator, operand in _conditions(condition):
            problem = _operator_problem(operator, operand)
            if problem is not None:
                problems.append(FilterProblem(path, problem))
    return problems


def validate_filter(spec: Any) -> list[str]:
    """Human-readable problems with a filter spec; an empty list means it is valid."""
    return [str(problem) for problem in filter_problems(spec)]


def filter_fields(spec: dict[str, Any]) -> list[str]:
    """The field paths a filter reads, in the order written."""
    return [path for path in spec if isinstance(path, str)]


def _holds(operator: str, value: Any, operand: Any) -> bool:
    if operator == "exists":
        return (value is not MISSING) is operand
    if value is MISSING:
        return operator in ("ne", "not_in")
    if operator == "eq":
        return json_equal(value, operand)
    if operator == "ne":
        return not json_equal(value, operand)
    if operator == "in":
        return any(json_equal(value, item) for item in operand)
    if operator == "not_in":
        return not any(json_equal(value, item) for item in operand)
    if not (
        (is_number(value) and is_number(operand))
        or (isinstance(value, str) and isinstance(operand, str))
    ):
        return False
    if operator == "gt":
        return bool(value > operand)
    if operator == "gte":
        return bool(value >= operand)
    if operator == "lt":
        return bool(value < operand)
    return bool(value <= operand)


class _Filter:
    """A compiled filter: call it with a record."""

    __slots__ = ("_checks", "fields")

    def __init__(self, checks: list[tuple[tuple[str, ...], str, Any]], fields: list[str]):
        self._checks = checks
        self.fields = fields

    def __call__(self, record: dict[str, Any]) -> bool:
        for segments, operator, operand in self._checks:
            if not _holds(operator, get_path(record, segments), operand):
                return False
        return True


def compile_filter(spec: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Compile a filter spec into a predicate over records.

    Raises :class:`~hookplane.errors.MappingError` listing the problems when the spec is
    invalid (configuration validation reports the same problems first, with positions).
    """
    problems = validate_filter(spec)
    if problems:
        raise MappingError("invalid filter: " + "; ".join(problems))
    checks = [
        (split_path(path), operator, operand)
        for path, condition in spec.items()
        for operator, operand in _conditions(condition)
    ]
    return _Filter(checks, filter_fields(spec))
