"""Hypothesis strategies for hostile HTTP input: bodies, headers, content types, ids."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import strategies as st

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=16,
)

_CLEAN_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                            blacklist_characters="\x00"), max_size=30)
CLEAN_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=False, allow_infinity=False), _CLEAN_TEXT),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(_CLEAN_TEXT, children, max_size=4)),
    max_leaves=16,
)
CLEAN_OBJECTS = st.dictionaries(_CLEAN_TEXT, CLEAN_VALUES, max_size=6).map(
    lambda d: json.dumps(d, ensure_ascii=False).encode())
"""JSON objects every parser accepts (no NUL, no lone surrogate): valid UTF-8 bodies."""

SEVERITIES = st.sampled_from(["p1", "p2", "p3", "P1", "", "p4", "p1 ", "\u0000", "\ud800"])


def _dump(value: Any, ascii_only: bool) -> bytes:
    # ensure_ascii=False with a lone surrogate gives bytes that are not UTF-8 at all
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def shaped(draw: st.DrawFn) -> bytes:
    """Objects close to what the project's webhooks expect, with hostile values."""
    title = draw(st.one_of(_CLEAN_TEXT, _CLEAN_TEXT, _CLEAN_TEXT, st.text(max_size=40),
                           JSON_VALUES,
                           st.sampled_from(["\u0000", "\ud800", "a\udfffb", "\U0001f600",
                                            "{{payload.x}}", "{% raw %}", "x" * 5000])))
    severity = draw(st.one_of(st.sampled_from(["p1", "p2", "p3"]), SEVERITIES, JSON_VALUES))
    payload: dict[str, Any] = {"title": title, "severity": severity}
    extra = draw(st.dictionaries(st.sampled_from(
        ["id", "record_id", "event", "state", "amount", "buyer", "placed_at", "issue",
         "labels", "data", "environment", "commit", "author", "pr", "status", "team"]),
        st.one_of(CLEAN_VALUES, CLEAN_VALUES, JSON_VALUES), max_size=5))
    payload.update(extra)
    return _dump(payload, draw(st.sampled_from([True, True, False])))


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"title":"t","severity":"p1","x":' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.one_of(st.integers(1, 120), st.integers(120, 1200),
                           st.sampled_from([5_000, 100_000])))
    return _nested(depth, draw(st.sampled_from(["array", "object", "inside"])))


@st.composite
def numbers(draw: st.DrawFn) -> bytes:
    text = draw(st.one_of(
        st.integers(1, 6000).map(lambda n: "9" * n),
        st.integers(1, 6000).map(lambda n: "1e" + "9" * min(n, 400)),
        st.integers(1, 400).map(lambda n: "-0." + "0" * n + "1"),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1E400",
                         "0x10", "01", "+1", ".5", "1.", "-", "1e", "2e-400"]),
    ))
    where = draw(st.sampled_from(["bare", "title", "severity", "amount"]))
    if where == "bare":
        return text.encode()
    return ('{"title":"t","severity":"p1","' + where + '":' + text + "}").encode()


@st.composite
def duplicate_keys(draw: st.DrawFn) -> bytes:
    keys = draw(st.lists(st.sampled_from(["title", "severity", "id", "record_id", "state"]),
                         min_size=2, max_size=8))
    values = draw(st.lists(JSON_SCALARS, min_size=len(keys), max_size=len(keys)))
    members = ",".join(json.dumps(k) + ":" + json.dumps(v) for k, v in zip(keys, values,
                                                                          strict=True))
    return ("{" + members + "}").encode()


ODD_TEXTS = st.sampled_from([
    b"", b"null", b"true", b"[]", b"{}", b'""', b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00",
    b'{"title": "t", "severity": "p1"} trailing', b'{"title": "\\ud800", "severity": "p1"}',
    b'{"title": "\\u0000", "severity": "p1"}', b'{"title": "t\\udc00x", "severity": "p1"}',
    b'{"title": "t", "severity": "p1", "\\u0000": 1}', b"{'title': 'single quotes'}",
    b'{"title": "t",}', b"\x00\x00\x00", b"\xc0\xaf", b"\xed\xa0\x80",
    '{"title": "caf\u00e9", "severity": "p1"}'.encode("latin-1"),
    '{"title": "\u00e9t\u00e9 \U0001f525", "severity": "p2"}'.encode("utf-16"),
])

BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.flatmap(lambda v: st.booleans().map(lambda a: _dump(v, a))),
    shaped(), nested(), numbers(), duplicate_keys(), ODD_TEXTS,
)
"""Anything a client can put in a request body, biased towards the parser's corners."""

CONTENT_TYPES = st.one_of(
    st.sampled_from([
        "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
        "application/json; charset=utf-16", "application/vnd.api+json", "application/+json",
        "text/plain", "text/json", "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz", "application/octet-stream", "",
        "application/json, text/plain", "application/json;;;", "*/*", "application/*",
    ]),
    st.text(alphabet=string.printable.strip() + " ", max_size=40).map(lambda t: t.strip(" ")),
)

_TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
HEADER_NAMES = st.one_of(
    st.text(alphabet=_TOKEN, min_size=1, max_size=30),
    st.sampled_from(["Content-Length", "Transfer-Encoding", "X-Forwarded-For", "Host",
                     "Authorization", "Cookie", "Expect", "Content-Encoding",
                     "X-Hookplane-Source"]),
)


def _field_value(raw: bytes) -> bytes:
    """What HTTP/1.1 lets a client send as a header value: visible bytes (Latin-1 and
    UTF-8 included), inner spaces and tabs; the clients refuse anything else."""
    return bytes(c for c in raw if c in b" \t" or 0x21 <= c <= 0x7E or c >= 0x80).strip(b" \t")


HEADER_VALUES = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
    .map(lambda t: t.strip(" ")),
    st.binary(max_size=60).map(_field_value),
    st.text(max_size=20).map(lambda t: _field_value(t.encode("utf-8", "surrogatepass"))),
    st.integers(min_value=0, max_value=8).map(lambda n: b"A" * (2 ** (n + 6))),
)
"""Printable text, raw Latin-1 bytes, UTF-8 (and broken UTF-8), long values."""

SIGNATURE_VALUES = st.one_of(
    HEADER_VALUES,
    st.binary(min_size=32, max_size=32).map(lambda b: "sha256=" + b.hex()),
    st.binary(min_size=32, max_size=32).map(lambda b: b.hex()),
    st.binary(min_size=32, max_size=32).map(lambda b: "v1," + __import__("base64")
                                            .b64encode(b).decode()),
    st.tuples(st.integers(0, 2**40), st.binary(min_size=32, max_size=32)).map(
        lambda t: f"t={t[0]},v1={t[1].hex()}"),
    st.sampled_from(["Bearer", "Bearer hpt_", "Bearer hpt_" + "0" * 40, "v0=", "v1=",
                     "sha256=", "t=,v1=", "t=1,v1=" + "a" * 64 * 20, "Basic Zm9vOmJhcg=="]),
)

IDENTIFIERS = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=40),
    st.text(min_size=1, max_size=40),
    st.sampled_from(["..", ".", "%2e%2e", "%00", "a%2Fb", "\u0000", "preview", "production",
                     "x" * 2000]),
)
"""Path segments: ids, environments, collections (URL-quoted before use)."""
