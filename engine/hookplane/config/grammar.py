"""The small languages inside the configuration: templates, compose patterns, filters.

This module says what is *valid*; :mod:`hookplane.mapping` executes it. Templates are
``{{ root.a.b }}`` placeholders and nothing else: no expressions, calls or filters, so
rendering can never run code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_-]*|[0-9]+)"
REFERENCE = re.compile(rf"^{SEGMENT}(?:\.{SEGMENT})*$")
_OPEN = "{{"
_CLOSE = "}}"

FILTER_OPERATORS = ("eq", "ne", "in", "not_in", "exists", "gt", "gte", "lt", "lte")
COMPOSE_FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Placeholder:
    reference: str
    """Dot path, e.g. ``payload.repository.name``."""
    start: int
    end: int


class GrammarError(ValueError):
    """A template or pattern that does not parse; ``column`` is 1-based in the text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


def parse_placeholders(text: str) -> list[Placeholder]:
    """Every ``{{ reference }}`` in ``text``; raises :class:`GrammarError` on anything else."""
    found: list[Placeholder] = []
    index = 0
    while True:
        start = text.find(_OPEN, index)
        if start < 0:
            return found
        end = text.find(_CLOSE, start + 2)
        if end < 0:
            raise GrammarError("unclosed '{{' (add '}}')", start + 1)
        inner = text[start + 2 : end].strip()
        if not REFERENCE.match(inner):
            raise GrammarError(
                f"'{{{{{text[start + 2 : end]}}}}}' is not a field reference; templates allow "
                "only dotted field paths such as {{payload.title}} (no expressions)",
                start + 1,
            )
        found.append(Placeholder(inner, start, end + 2))
        index = end + 2


def parse_compose(pattern: str) -> list[str]:
    """Field paths in a compose pattern like ``"{first} {last}"``; ``{{``/``}}`` are literal."""
    stripped = pattern.replace("{{", "").replace("}}", "")
    fields: list[str] = []
    for match in COMPOSE_FIELD.finditer(stripped):
        inner = match.group(1).strip()
        if not REFERENCE.match(inner):
            raise GrammarError(f"'{{{match.group(1)}}}' is not a field path", match.start() + 1)
        fields.append(inner)
    leftover = COMPOSE_FIELD.sub("", stripped)
    if "{" in leftover or "}" in leftover:
        raise GrammarError("unbalanced '{' or '}' (write '{{' or '}}' for a literal brace)",
                           max(leftover.find("{"), leftover.find("}")) + 1)
    if not fields:
        raise GrammarError("a compose pattern needs at least one {field}", 1)
    return fields


def filter_problems(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, problem) for every invalid condition in a trigger filter."""
    import difflib

    problems: list[tuple[str, str]] = []
    for path, condition in spec.items():
        if not isinstance(path, str) or not REFERENCE.match(path):
            problems.append((str(path), f"'{path}' is not a field path"))
            continue
        if not isinstance(condition, dict):
            continue
        if not condition:
            problems.append((path, "an operator mapping needs at least one operator"))
        for op, operand in condition.items():
            if op not in FILTER_OPERATORS:
                close = difflib.get_close_matches(str(op), FILTER_OPERATORS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append((path, f"unknown filter operator '{op}'{hint}; operators are "
                                 f"{', '.join(FILTER_OPERATORS)}"))
            elif op in ("in", "not_in") and not isinstance(operand, list):
                problems.append((path, f"'{op}' needs a list of values"))
            elif op == "exists" and not isinstance(operand, bool):
                problems.append((path, "'exists' needs true or false"))
            elif op in ("gt", "gte", "lt", "lte") and (
                isinstance(operand, bool) or not isinstance(operand, int | float | str)
            ):
                problems.append((path, f"'{op}' needs a number or a string"))
    return problems
