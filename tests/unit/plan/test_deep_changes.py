"""The plan's attribute diff gives exactly DeepDiff's answer (tree view, verbose level 2),
which it replaced for dicts and scalars: random JSON-like documents, mutated at random, are
compared both ways."""

from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff
from hypothesis import given, settings
from hypothesis import strategies as st

from hookplane.plan.diff import _deep_changes
from hookplane.plan.model import AttributeChange

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                    st.sampled_from([0.0, 1.0, 2.5]), st.sampled_from(["", "a", "b", "p1"]))
KEYS = st.sampled_from(["a", "b", "c", "url", "events", "retry", "1"])
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)
DOCS = st.dictionaries(KEYS, JSON, max_size=5)


def _reference(before: dict[str, Any], after: dict[str, Any]) -> list[AttributeChange]:
    """What the plan computed with DeepDiff alone, before."""
    tree = DeepDiff(before, after, view="tree", verbose_level=2)
    changes = []
    for report in tree.values():
        for level in report:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            t1 = None if type(level.t1).__name__ == "NotPresent" else level.t1
            t2 = None if type(level.t2).__name__ == "NotPresent" else level.t2
            changes.append(AttributeChange(path, t1, t2))
    return sorted(changes, key=lambda c: c.path)


@settings(max_examples=400, deadline=None)
@given(before=DOCS, after=DOCS)
def test_unrelated_documents(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert _deep_changes(before, after) == _reference(before, after)


@settings(max_examples=400, deadline=None)
@given(before=DOCS, key=KEYS, value=JSON)
def test_one_edit(before: dict[str, Any], key: str, value: Any) -> None:
    after = {**before, key: value}
    assert _deep_changes(before, after) == _reference(before, after)


def test_type_changes_that_compare_equal_are_reported() -> None:
    for old, new in ((1, 1.0), (True, 1), (0, False), ({"x": 1}, {"x": 1.0})):
        assert _deep_changes({"v": old}, {"v": new}) == _reference({"v": old}, {"v": new})
        assert _deep_changes({"v": old}, {"v": new}) != []
    # inside a list DeepDiff compares by hash, where 1 and True are one value: kept as it was
    assert _deep_changes({"v": [1]}, {"v": [True]}) == _reference({"v": [1]}, {"v": [True]})
