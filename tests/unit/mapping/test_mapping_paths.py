from __future__ import annotations

from typing import Any

import pytest

from hookplane.mapping import MISSING, delete_path, get_path, has_path, set_path, split_path

DOC: dict[str, Any] = {
    "a": {"b": {"c": 1}, "none": None},
    "items": [{"name": "first"}, {"name": "second"}],
    "0": "digit key",
    "text": "abc",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.b.c", 1),
        ("a.b", {"c": 1}),
        ("a.none", None),
        ("items.0.name", "first"),
        ("items.1.name", "second"),
        ("0", "digit key"),  # on a dict a digit segment is a plain key
        ("a.missing", MISSING),
        ("items.2.name", MISSING),  # out of range
        ("items.x", MISSING),  # non-digit segment on a list
        ("items.-1", MISSING),  # no negative indexes
        ("items.²", MISSING),  # unicode digits are not indexes
        ("text.upper", MISSING),  # no attribute access on strings
        ("a.b.c.d", MISSING),  # stepping into a number
        ("a.none.x", MISSING),
        ("a.__class__", MISSING),
    ],
)
def test_get_path(path: str, expected: Any) -> None:
    assert get_path(DOC, path) == expected
    assert has_path(DOC, path) is (expected is not MISSING)


def test_get_path_default_and_presplit_segments() -> None:
    assert get_path(DOC, "a.zzz", default="fallback") == "fallback"
    assert get_path(DOC, ("items", "1", "name")) == "second"
    assert get_path(DOC, ["a", "b", "c"]) == 1


def test_missing_is_falsy_and_named() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"


@pytest.mark.parametrize("bad", ["", "a..b", ".a", "a."])
def test_bad_paths_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a field path"):
        split_path(bad)
    with pytest.raises(ValueError):
        get_path(DOC, bad)


def test_set_path_creates_intermediate_dicts() -> None:
    target: dict[str, Any] = {"keep": 1}
    set_path(target, "x.y.z", "v")
    set_path(target, "x.y.w", 2)
    set_path(target, "x.0", "digit key in a dict")
    assert target == {"keep": 1, "x": {"y": {"z": "v", "w": 2}, "0": "digit key in a dict"}}


def test_set_path_indexes_existing_lists() -> None:
    target: dict[str, Any] = {"items": [{"name": "a"}, {"name": "b"}]}
    set_path(target, "items.1.name", "B")
    set_path(target, "items.0", "replaced")
    assert target == {"items": ["replaced", {"name": "B"}]}


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        ("items.5", IndexError, "out of range"),
        ("items.name", TypeError, "not a list index"),
        ("text.inner", TypeError, "holds a str"),
    ],
)
def test_set_path_errors(path: str, error: type[Exception], message: str) -> None:
    target: dict[str, Any] = {"items": [1], "text": "abc"}
    with pytest.raises(error, match=message):
        set_path(target, path, 1)


def test_delete_path() -> None:
    target: dict[str, Any] = {"a": {"b": 1, "c": 2}, "items": [10, 20, 30]}
    assert delete_path(target, "a.b") is True
    assert delete_path(target, "a.b") is False
    assert delete_path(target, "items.1") is True
    assert delete_path(target, "items.7") is False
    assert delete_path(target, "nothing.here") is False
    assert delete_path(target, "a.c.deeper") is False
    assert target == {"a": {"c": 2}, "items": [10, 30]}
