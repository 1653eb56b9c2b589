"""``{{payload.a.b}}`` / ``{{record.x}}`` templates: substitution only, never code.

Grammar
    A template is text with placeholders ``{{ root.seg.seg }}``: optional whitespace inside
    the braces and dot-separated segments, each a name ``[A-Za-z_][A-Za-z0-9_-]*`` or all
    digits (a list index; as the root it simply resolves to nothing). Nothing
    else is allowed between ``{{`` and ``}}`` -- no filters, operators, calls or
    attribute syntax -- and an unclosed ``{{`` is an error. A ``}}`` outside a placeholder
    and single braces are literal text (so JSON-looking text needs no escaping).

Resolution
    The root is looked up in the context dict and each segment in the dict or list reached
    so far (:func:`hookplane.mapping.paths.get_path`). No attribute is ever read and no
    method is ever called: ``{{ payload.__class__ }}`` is simply a missing key.

Rendering
    Inside text, missing and ``null`` render as ``""``, strings as themselves, numbers and
    booleans as JSON (``true``), objects and arrays as compact JSON. :func:`render_value`
    walks a JSON-like structure and renders each string leaf; a leaf that is exactly one
    placeholder keeps the JSON type of what it references (``"{{record.count}}"`` -> ``3``,
    ``null`` stays ``null``). When that value is missing the leaf is left out: an object
    loses the key, a list the item -- never a ``""`` where a list or a number belongs. A
    whole template that is one placeholder over a missing value renders as ``missing``
    (``""`` unless the caller says otherwise). Output is capped (``max_bytes``, UTF-8):
    rendering stops with :class:`~hookplane.errors.TemplateError` as soon as the cap is
    passed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from hookplane.errors import TemplateError, TemplateSyntaxError
from hookplane.mapping._values import as_text, compact_json
from hookplane.mapping.paths import MISSING, get_path

__all__ = [
    "MAX_OUTPUT_BYTES",
    "Placeholder",
    "Template",
    "TemplateSyntaxError",
    "is_field_path",
    "parse_compose",
    "parse_template",
    "render_string",
    "render_value",
]

MAX_OUTPUT_BYTES: Final = 1_048_576
"""Default cap on rendered output (1 MiB)."""

_SEGMENT = r"(?:[A-Za-z_][A-Za-z0-9_-]*|[0-9]+)"
_PATH = re.compile(rf"{_SEGMENT}(?:\.{_SEGMENT})*")
_SHOWN = 40


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{{ ... }}``: its dotted ``path``, split into ``segments``, at ``position``."""

    path: str
    segments: tuple[str, ...]
    position: int = 0


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and placeholders, in order."""

    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def references(self) -> tuple[str, ...]:
        """Every path referenced, in order of first appearance (``"payload.title"``)."""
        seen: dict[str, None] = {}
        for part in self.parts:
            if isinstance(part, Placeholder):
                seen.setdefault(part.path, None)
        return tuple(seen)

    @property
    def single(self) -> Placeholder | None:
        """The placeholder when the whole template is exactly one placeholder."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Placeholder):
            return self.parts[0]
        return None


def _where(text: str, position: int) -> tuple[int, int, str]:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    label = f"column {column}" if line == 1 else f"line {line}, column {column}"
    return line, column, label


_AT: Final = "\x00at\x00"
"""Where a message names the position (``at column 5``); callers that position the error
themselves read :attr:`TemplateSyntaxError.reason`, the message without it."""


def _syntax_error(text: str, position: int, message: str) -> TemplateSyntaxError:
    line, column, label = _where(text, position)
    return TemplateSyntaxError(
        message.replace(_AT, f" at {label}"),
        position=position,
        line=line,
        column=column,
        reason=message.replace(_AT, ""),
    )


def is_field_path(path: str) -> bool:
    """Whether ``path`` is a dotted field path of the template grammar: names
    ``[A-Za-z_][A-Za-z0-9_-]*`` or list indexes (digits), e.g. ``payload.items.0.id``.
    Placeholders, compose fields and filter fields are written in it."""
    return _PATH.fullmatch(path) is not None


@lru_cache(maxsize=2048)
def parse_template(text: str) -> Template:
    """Parse ``text``; raise :class:`TemplateSyntaxError` (a ``TemplateError``) when a
    placeholder is not a plain dotted path or a ``{{`` is never closed."""
    parts: list[str | Placeholder] = []
    literal_start = 0
    cursor = 0
    while True:
        start = text.find("{{", cursor)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            raise _syntax_error(
                text, start, f"unclosed '{{{{'{_AT}: close the placeholder with '}}}}'"
            )
        name = text[start + 2 : end].strip()
        if not name:
            raise _syntax_error(
                text,
                start,
                f"empty placeholder '{{{{}}}}'{_AT}: write a path such as {{{{ payload.title }}}}",
            )
        if _PATH.fullmatch(name) is None:
            shown = name if len(name) <= _SHOWN else name[:_SHOWN] + "..."
            raise _syntax_error(
                text,
                start,
                f"'{{{{ {shown} }}}}'{_AT} is not a placeholder: only a dotted "
                "path such as {{ payload.alert.severity }} is allowed (no expressions, "
                "filters or calls)",
            )
        if start > literal_start:
            parts.append(text[literal_start:start])
        parts.append(Placeholder(name, tuple(name.split(".")), start))
        cursor = literal_start = end + 2
    if literal_start < len(text):
        parts.append(text[literal_start:])
    return Template(text, tuple(parts))


@lru_cache(maxsize=1024)
def parse_compose(pattern: str) -> Template:
    """Parse a compose pattern, ``"{first} {last}"``: a template whose placeholders are
    single-brace field paths (:func:`is_field_path`, spaces around them ignored) of the
    external payload. ``{{`` and ``}}`` are literal braces; a pattern names at least one
    field. Raises :class:`TemplateSyntaxError` (``column`` and ``reason`` as for
    templates)."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("{{", index) or pattern.startswith("}}", index):
            literal.append(char)
            index += 2
        elif char == "{":
            end = pattern.find("}", index + 1)
            if end < 0:
                raise _syntax_error(
                    pattern, index, f"unclosed '{{'{_AT}: close the field with '}}' (write "
                    "'{{' for a literal brace)"
                )
            inner = pattern[index + 1 : end]
            name = inner.strip()
            if "{" in name or not name:
                raise _syntax_error(
                    pattern, index, f"empty or broken field '{{{inner}}}'{_AT}: write a field "
                    "path such as {first} or {name.first}"
                )
            if ":" in name or "!" in name:
                raise _syntax_error(
                    pattern, index, f"'{{{inner}}}'{_AT}: format specifications are not "
                    "supported, only field paths"
                )
            if not is_field_path(name):
                raise _syntax_error(
                    pattern, index, f"'{{{inner}}}'{_AT} is not a field path: use names "
                    "(letters, digits, '_', '-') separated by dots, e.g. {first} or {name.first}"
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Placeholder(name, tuple(name.split(".")), index))
            index = end + 1
        elif char == "}":
            raise _syntax_error(
                pattern, index, f"single '}}'{_AT} (write '}}}}' for a literal brace)"
            )
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append("".join(literal))
    if not any(isinstance(part, Placeholder) for part in parts):
        raise _syntax_error(
            pattern, 0, f"a compose pattern needs at least one {{field}}{_AT}, e.g. "
            "'{first} {last}' (for a fixed value use computed)"
        )
    return Template(pattern, tuple(parts))


class _Renderer:
    """One rendering pass: the context, the output budget, serialised containers."""

    __slots__ = ("_context", "_json", "_limit", "_used")

    def __init__(self, context: dict[str, Any], max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError("max_bytes must be a non-negative integer")
        self._context = context
        self._limit = max_bytes
        self._used = 0
        self._json: dict[int, str] = {}

    def spend(self, text: str) -> None:
        remaining = self._limit - self._used
        if len(text) > remaining:  # every character is at least one byte: no need to encode
            raise TemplateError(f"rendered output exceeds {self._limit} bytes")
        self._used += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        if self._used > self._limit:
            raise TemplateError(f"rendered output exceeds {self._limit} bytes")

    def resolve(self, placeholder: Placeholder) -> Any:
        return get_path(self._context, placeholder.segments)

    def dump(self, value: dict[str, Any] | list[Any]) -> str:
        """Compact JSON of a container, serialised once per rendering pass."""
        key = id(value)
        text = self._json.get(key)
        if text is None:
            try:
                text = compact_json(value)
            except (RecursionError, ValueError) as exc:
                raise TemplateError(
                    "a value referenced by the template is nested too deeply (or refers "
                    "to itself) to be rendered"
                ) from exc
            self._json[key] = text
        return text

    def text_of(self, value: Any) -> str:
        if value is MISSING:
            return ""
        if isinstance(value, dict | list):
            return self.dump(value)
        return as_text(value)

    def string(self, template: Template) -> str:
        pieces: list[str] = []
        for part in template.parts:
            piece = part if isinstance(part, str) else self.text_of(self.resolve(part))
            self.spend(piece)
            pieces.append(piece)
        return "".join(pieces)

    def value(self, value: Any) -> Any:
        """``value`` rendered; :data:`MISSING` for a lone placeholder over nothing."""
        if isinstance(value, str):
            template = parse_template(value)
            single = template.single
            if single is None:
                return self.string(template)
            return self.typed(self.resolve(single))
        if isinstance(value, dict):
            rendered = ((key, self.value(item)) for key, item in value.items())
            return {key: item for key, item in rendered if item is not MISSING}
        if isinstance(value, list | tuple):
            return [item for item in map(self.value, value) if item is not MISSING]
        return value

    def typed(self, resolved: Any) -> Any:
        """What a lone placeholder renders to: the referenced value, JSON type kept."""
        if resolved is MISSING:
            return MISSING
        if isinstance(resolved, dict | list):
            text = self.dump(resolved)
            self.spend(text)
            return _json_copy(text)
        if resolved is None or isinstance(resolved, str | bool | int | float):
            self.spend(as_text(resolved))
            return resolved
        text = as_text(resolved)
        self.spend(text)
        return text


def _json_copy(text: str) -> Any:
    return json.loads(text)


def render_string(
    template: str | Template, context: dict[str, Any], *, max_bytes: int = MAX_OUTPUT_BYTES
) -> str:
    """Render ``template`` (text or parsed) over ``context`` to a string.

    Raises :class:`~hookplane.errors.TemplateError` on a syntax error or when the output
    would exceed ``max_bytes``.
    """
    parsed = parse_template(template) if isinstance(template, str) else template
    return _Renderer(context, max_bytes).string(parsed)


def render_value(
    value: Any,
    context: dict[str, Any],
    *,
    max_bytes: int = MAX_OUTPUT_BYTES,
    missing: Any = "",
) -> Any:
    """Render every string leaf of a JSON-like ``value``; dict keys are left as they are.

    A leaf that is exactly one placeholder keeps the referenced value's JSON type (a
    number stays a number, ``null`` stays ``null``, an object is copied); when the value
    is missing the leaf is left out of its object or list. When ``value`` itself is one
    placeholder over a missing value the result is ``missing`` (pass :data:`MISSING` to
    tell "absent" from an empty string). ``max_bytes`` caps the rendered text of all
    leaves together (substituted objects count as their compact JSON); literal non-text
    leaves and keys are not counted.
    """
    rendered = _Renderer(context, max_bytes).value(value)
    return missing if rendered is MISSING else rendered
