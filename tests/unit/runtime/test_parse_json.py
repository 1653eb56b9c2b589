"""The ingest body parser: strict JSON, and the checks it skips only when they cannot fail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookplane.runtime.ingest import MAX_JSON_DEPTH, _check_tree, _plain, parse_json


@pytest.mark.parametrize("body", [
    b'{"a": "\\u0000"}',                                   # NUL, escaped
    b'{"a": "\\ud800"}',                                   # lone surrogate, escaped
    b'{"a": "\xed\xa0\x80"}',                              # lone surrogate, raw UTF-8 bytes
    '{"a": "\\u0000"}'.encode("utf-16-le"),                # UTF-16: the escape's bytes differ
    '{"a": "\ud800"}'.encode("utf-16-le", "surrogatepass"),  # raw surrogate in UTF-16
    b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
    b'{"\\u0000": 1}',                                     # in a key
])
def test_what_nothing_downstream_can_store_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_json(body)


def test_plain_bodies_parse_without_the_walk() -> None:
    body = b'{"id": 42, "tags": ["a", "b"], "nested": {"x": [1, {"y": null}]}}'
    assert _plain(body)
    assert parse_json(body) == json.loads(body)
    assert parse_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30)


@given(json_values, st.sampled_from(["utf-8", "utf-16", "utf-32"]), st.booleans())
def test_a_body_judged_plain_never_fails_the_walk(value: Any, encoding: str,
                                                  ascii_only: bool) -> None:
    """The shortcut is safe: whenever it skips the walk, the walk would have passed."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        body = text.encode(encoding, "surrogatepass")
    except UnicodeError:
        return
    if not _plain(body):
        return
    _check_tree(json.loads(body))  # must not raise
