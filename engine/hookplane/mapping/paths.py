"""Dot-path access to nested JSON-like data.

A path is a dot-separated list of segments (``"customer.address.city"``). A segment made
only of ASCII digits indexes a list (``"items.0.name"``); on a dict every segment, digits
included, is a plain key. Only ``dict`` and ``list`` are ever traversed: no attribute is
read, no method is called, so a path can never reach into Python objects.

Every function takes the path either as text or already split (a tuple of segments, as
returned by :func:`split_path`), which is what the compiled mappings and templates pass.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final

__all__ = [
    "MISSING",
    "MissingType",
    "delete_path",
    "get_path",
    "has_path",
    "set_path",
    "split_path",
]


class MissingType(enum.Enum):
    """The type of :data:`MISSING` (an enum so that type checkers can narrow on it)."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = MissingType.MISSING
"""Returned by :func:`get_path` when the path does not exist (and no default is given)."""

_Path = str | Sequence[str]


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """Split ``"a.b.0"`` into ``("a", "b", "0")``.

    Raises :class:`ValueError` for an empty path or an empty segment (``"a..b"``, ``".a"``).
    """
    if not isinstance(path, str):
        raise ValueError(f"a field path must be text, not {type(path).__name__}")
    segments = tuple(path.split("."))
    if not path or any(segment == "" for segment in segments):
        raise ValueError(
            f"'{path}' is not a field path: use names separated by single dots, "
            "e.g. 'customer.name' or 'items.0.id'"
        )
    return segments


def _segments(path: _Path) -> tuple[str, ...]:
    if isinstance(path, str):
        return split_path(path)
    if not path:
        raise ValueError("a field path needs at least one segment")
    return tuple(path)


def _index(segment: str) -> int | None:
    """The list index a segment names, or None when it is not all ASCII digits."""
    if segment.isascii() and segment.isdigit():
        return int(segment)
    return None


def _step(current: Any, segment: str) -> Any:
    if isinstance(current, dict):
        return dict.get(current, segment, MISSING)  # never a subclass override
    if isinstance(current, list):
        index = _index(segment)
        if index is not None and index < len(current):
            return current[index]
    return MISSING


def get_path(obj: Any, path: _Path, default: Any = MISSING) -> Any:
    """The value at ``path`` inside ``obj``, or ``default`` when any step is missing.

    A step into anything other than a dict or a list (a string, a number, None) is a
    missing value, never an error.
    """
    current = obj
    for segment in _segments(path):
        current = _step(current, segment)
        if current is MISSING:
            return default
    return current


def has_path(obj: Any, path: _Path) -> bool:
    """Whether ``path`` exists inside ``obj`` (a present ``None`` counts as existing)."""
    return get_path(obj, path) is not MISSING


def set_path(obj: dict[str, Any], path: _Path, value: Any) -> None:
    """Write ``value`` at ``path``, creating intermediate dicts where nothing exists.

    An existing list is indexed by a digit segment (the index must already exist: lists
    are never extended). Raises :class:`TypeError` when an intermediate value is neither a
    dict nor a list, or a list is stepped into with a non-digit segment, and
    :class:`IndexError` when a list index is out of range.
    """
    segments = _segments(path)
    current: Any = obj
    for depth, segment in enumerate(segments):
        last = depth == len(segments) - 1
        where = ".".join(segments[:depth]) or "<root>"
        if isinstance(current, dict):
            if last:
                current[segment] = value
                return
            child = current.get(segment, MISSING)
            if child is MISSING:
                child = {}
                current[segment] = child
            current = child
        elif isinstance(current, list):
            index = _index(segment)
            if index is None:
                raise TypeError(f"'{where}' is a list; '{segment}' is not a list index")
            if index >= len(current):
                raise IndexError(
                    f"'{where}' has {len(current)} item(s); index {index} is out of range"
                )
            if last:
                current[index] = value
                return
            current = current[index]
        else:
            raise TypeError(
                f"'{where}' holds a {type(current).__name__}, not an object; "
                f"cannot write '{'.'.join(segments)}' inside it"
            )


def delete_path(obj: Any, path: _Path) -> bool:
    """Remove the value at ``path``; return whether something was removed.

    Deleting a list item shifts the items after it (``del items[i]``).
    """
    segments = _segments(path)
    parent = get_path(obj, segments[:-1]) if len(segments) > 1 else obj
    leaf = segments[-1]
    if isinstance(parent, dict):
        if leaf in parent:
            del parent[leaf]
            return True
        return False
    if isinstance(parent, list):
        index = _index(leaf)
        if index is not None and index < len(parent):
            del parent[index]
            return True
    return False
