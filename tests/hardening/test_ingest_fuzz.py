"""Property-based fuzzing of ``POST /inbound/{env}/{id}/ingest`` on a real server.

Random bodies (bytes, JSON, deep nesting, huge numbers, duplicate keys, broken UTF-8, lone
surrogates, NUL), headers (random names, Latin-1 and UTF-8 values, forged signatures) and
content types, against every inbound webhook of the runtime project:

- without a valid signature nothing is ever accepted (no 2xx), and nothing is a 5xx;
- with a valid signature (computed here, the way each provider documents it) the answer is a
  2xx or a 4xx with a JSON error, never a 5xx; what was accepted can be read back;
- a signature valid for another webhook, or outside the timestamp tolerance, is refused.
"""

from __future__ import annotations

import json
import random
import socket
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.hardening import strategies as hs
from tests.hardening.figures import record, scale
from tests.hardening.support import (
    SIGNATURE_HEADERS,
    SIGNED,
    Runtime,
    signed_headers,
)

EXAMPLES = scale(150, 2500)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

ALL_HOOKS = (*SIGNED, "limited", "walled", "proxied", "disabled", "small")
REJECTED_UNSIGNED = {400, 401, 403, 404, 413, 415, 429}
ANSWERS_SIGNED = {200, 201, 202, 400, 413, 415, 422}


def _backend(rt: Runtime) -> str:
    return "sqlite" if rt.database_url.startswith("sqlite") else "postgresql"


def _send(rt: Runtime, path: str, body: bytes,
          headers: list[tuple[str, str | bytes]]) -> httpx.Response:
    return rt.http.post(path, content=body, headers=headers)


PARSER_REJECTION = "Invalid HTTP request received."
"""uvicorn's own answer to a request its HTTP parser refuses (before the app sees it)."""


def _check_json_error(response: httpx.Response) -> None:
    if response.status_code == 400 and response.text == PARSER_REJECTION:
        return
    assert response.headers.get("content-type", "").startswith("application/json"), \
        response.headers
    document = response.json()
    assert isinstance(document, dict)


@st.composite
def forged_request(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[str, str | bytes]]]:
    name = draw(st.sampled_from(ALL_HOOKS))
    body = draw(st.one_of(hs.CLEAN_OBJECTS, hs.shaped(), hs.BODIES))
    headers: list[tuple[str, str | bytes]] = []
    headers.append(("Content-Type", draw(st.sampled_from(["application/json"] * 4 + ["?"]))))
    if headers[0][1] == "?":
        headers[0] = ("Content-Type", draw(hs.CONTENT_TYPES))
    for header in draw(st.lists(st.sampled_from(SIGNATURE_HEADERS), max_size=4)):
        headers.append((header, draw(hs.SIGNATURE_VALUES)))
    for header, value in draw(st.lists(st.tuples(hs.HEADER_NAMES, hs.HEADER_VALUES),
                                       max_size=4)):
        if header.lower() not in ("content-length", "transfer-encoding", "host"):
            headers.append((header, value))
    return name, body, headers


_counts: dict[str, dict[int, int]] = {}


def _tally(target: str, status: int) -> None:
    bucket = _counts.setdefault(target, {})
    bucket[status] = bucket.get(status, 0) + 1


def _record(target: str, rt: Runtime, **more: object) -> None:
    seen = _counts.pop(target, {})
    record("fuzz", f"{target} [{_backend(rt)}]", cases=sum(seen.values()),
           statuses={str(k): v for k, v in sorted(seen.items())}, server_errors=sum(
               v for k, v in seen.items() if k >= 500), **more)


def test_unsigned_and_forged_requests_are_never_accepted(rt: Runtime) -> None:
    target = "ingest: unsigned / forged"

    @FUZZ
    @given(forged_request())
    @example(("plain", b'{"title":"t","severity":"p1"}', [("Content-Type", "application/json"),
                                                          ("X-Signature", "")]))
    @example(("bearer", b"{}", [("Content-Type", "application/json"),
                                ("Authorization", "Bearer hpt_")]))
    @example(("proxied", b"{}", [("Content-Type", "application/json"),
                                 ("X-Forwarded-For", b"\xff, ::1, 2001:db8::1, 300.1.1.1")]))
    def run(case: tuple[str, bytes, list[tuple[str, str | bytes]]]) -> None:
        name, body, headers = case
        response = _send(rt, rt.ingest_path(name), body, headers)
        _tally(target, response.status_code)
        assert response.status_code in REJECTED_UNSIGNED, (name, response.status_code,
                                                           response.text)
        _check_json_error(response)

    run()
    _record(target, rt)


@st.composite
def signed_request(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[str, str | bytes]]]:
    name = draw(st.sampled_from(SIGNED))
    body = draw(st.one_of(hs.shaped(), hs.shaped(), hs.BODIES))  # mostly near the mark
    content_type = draw(st.sampled_from(["application/json"] * 8 + ["other"]))
    if content_type == "other":
        content_type = draw(hs.CONTENT_TYPES)
    extra = draw(st.lists(st.tuples(hs.HEADER_NAMES, hs.HEADER_VALUES), max_size=3))
    headers: list[tuple[str, str | bytes]] = [("Content-Type", content_type)]
    headers += [(k, v) for k, v in extra
                if k.lower() not in ("content-length", "transfer-encoding", "host",
                                     "authorization", "content-type")]
    return name, body, headers


DEEP = b'{"title":"t","severity":"p1","x":' + b"[" * 950 + b"]" * 950 + b"}"


def test_signed_requests_never_fail_with_a_server_error(rt: Runtime) -> None:
    target = "ingest: validly signed"
    accepted: list[tuple[str, dict[str, object]]] = []

    @FUZZ
    @given(signed_request())
    @example(("plain", b'{"title":"\\u0000","severity":"p1"}', [("Content-Type",
                                                                  "application/json")]))
    @example(("plain", b'{"title":"\\ud800","severity":"p1"}', [("Content-Type",
                                                                  "application/json")]))
    @example(("plain", b'{"title":"t","severity":"p1","n":1e999}',
              [("Content-Type", "application/json")]))
    @example(("plain", b'{"title":"t","severity":"p1","n":' + b"9" * 4000 + b"}",
              [("Content-Type", "application/json")]))
    @example(("plain", DEEP, [("Content-Type", "application/json")]))
    @example(("orders", b'{"id":"\\u0000","state":"PAID"}', [("Content-Type",
                                                               "application/json")]))
    @example(("orders-ref", b'{"record_id":"../../admin?x=1#","event":"x"}',
              [("Content-Type", "application/json")]))
    @example(("orders-ref", b'{"record_id":"\\ud800"}', [("Content-Type",
                                                           "application/json")]))
    @example(("deploy-failed", b'{"title":"\\u0000","environment":{"a":[1e308]}}',
              [("Content-Type", "application/json")]))
    @example(("agent", b'{"pr":"\\ud800"}', [("Content-Type", "application/json")]))
    @example(("stripe", b'{"id":"\\u0000","data":{"object":{"description":"d","level":"p1"}}}',
              [("Content-Type", "application/json")]))
    def run(case: tuple[str, bytes, list[tuple[str, str | bytes]]]) -> None:
        name, body, headers = case
        headers = [*headers, *signed_headers(rt, name, body).items()]
        response = _send(rt, rt.ingest_path(name), body, headers)
        _tally(target, response.status_code)
        assert response.status_code in ANSWERS_SIGNED, (name, body[:300], response.text)
        _check_json_error(response)
        if response.status_code in (200, 201):
            document = response.json()
            if document.get("status") != "duplicate":
                accepted.append((name, document))

    run()
    # what was accepted was stored, and reads back as JSON
    with Store.open(rt.database_url, root=rt.root) as store:
        runtime = RuntimeStore(store)
        for _name, document in accepted:
            stored = runtime.get("preview", str(document["collection"]),
                                 str(document["record_id"]))
            assert stored is not None and isinstance(stored.data, dict)
            json.dumps(stored.data, allow_nan=False)
    _record(target, rt, accepted=len(accepted))


def test_signatures_do_not_transfer_between_webhooks_or_times(rt: Runtime) -> None:
    target = "ingest: replayed / cross-webhook signature"

    @FUZZ
    @given(st.sampled_from(SIGNED), st.sampled_from(SIGNED), hs.CLEAN_OBJECTS,
           st.integers(320, 10**8), st.booleans())  # clear of the 300 s tolerance
    def run(signer: str, receiver: str, body: bytes, skew: int, past: bool) -> None:
        timestamped = signer in ("standard", "stripe", "slack")
        if signer == receiver and not timestamped:
            receiver = "pagerduty" if signer != "pagerduty" else "plain"
        now = int(time.time()) + (-skew if past else skew)
        headers = signed_headers(rt, signer, body, now=now if signer == receiver else None)
        response = _send(rt, rt.ingest_path(receiver), body,
                         [("Content-Type", "application/json"), *headers.items()])
        _tally(target, response.status_code)
        assert response.status_code in (400, 401), (signer, receiver, response.text)

    run()
    _record(target, rt)


def test_unknown_environments_and_ids(rt: Runtime) -> None:
    target = "ingest: unknown environments and ids"

    segments = hs.IDENTIFIERS.filter(lambda x: x not in (".", ".."))  # the client folds those

    @FUZZ
    @given(segments, segments, hs.BODIES)
    def run(environment: str, webhook_id: str, body: bytes) -> None:
        path = f"/inbound/{quote(environment, safe='')}/{quote(webhook_id, safe='')}/ingest"
        response = rt.http.post(path, content=body,
                                headers={"Content-Type": "application/json"})
        _tally(target, response.status_code)
        assert response.status_code == 404, (path, response.text)

    run()
    _record(target, rt)


def test_wrong_methods_and_routes_keep_their_status(rt: Runtime) -> None:
    target = "framework: wrong methods, unknown routes"

    @settings(FUZZ, max_examples=min(EXAMPLES, 60))
    @given(hs.IDENTIFIERS, st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]),
           st.sampled_from(["/inbound/preview/{x}/ingest", "/{x}", "/api/{x}", "/healthz/{x}",
                            "/admin/{x}/nothing"]))
    def run(segment: str, method: str, template: str) -> None:
        path = template.format(x=quote(segment, safe=""))
        response = rt.http.request(method, path)
        _tally(target, response.status_code)
        assert response.status_code in (404, 405), (path, method, response.text)

    run()
    _record(target, rt)


RAW_REQUESTS = [
    b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n{}",
    b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999"
    b"99999\r\n\r\n{}",
    b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
    b"Content-Length: 3\r\n\r\n{}",
    b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\n{}\r\n0\r\n\r\n",
    b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: a\r\nbad header line\r\n\r\n",
    b"POST /inbound/preview/x/ingest HTTP/9.9\r\nHost: a\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello on the plain port
    b"GARBAGE\r\n\r\n",
    b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: a\r\nX: " + b"A" * 200_000 + b"\r\n\r\n",
    b"POST /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
]


@pytest.mark.parametrize("raw", RAW_REQUESTS, ids=range(len(RAW_REQUESTS)))
def test_malformed_http_is_refused_and_the_server_lives_on(rt: Runtime, raw: bytes) -> None:
    port = int(rt.server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError):
            answer = b""
    status = int(answer.split(b" ", 2)[1]) if answer else 0  # 0: closed without an answer
    assert status == 0 or 400 <= status < 500, answer[:300]
    assert rt.http.get("/healthz").status_code == 200
    _tally("ingest: malformed HTTP (raw socket)", status)
    if raw is RAW_REQUESTS[-1]:
        _record("ingest: malformed HTTP (raw socket)", rt)


def test_random_order_of_valid_deliveries_is_all_stored(rt: Runtime) -> None:
    """A control for the fuzzers above: the same server accepts well-formed deliveries."""
    shuffled = list(SIGNED)
    random.Random(6).shuffle(shuffled)
    for name in shuffled:
        body = {"github": b'{"issue":{"title":"t"},"labels":["p2"]}',
                "stripe": b'{"id":"evt_ctl","data":{"object":{"description":"d",'
                          b'"level":"p3"}}}',
                "orders": b'{"id":"o-1","state":"PAID","amount":3}',
                "orders-ref": b'{"record_id":"o-1"}',
                "agent": b'{"pr":1}',
                "deploy-failed": b'{"title":"x"}'}.get(name, b'{"title":"t","severity":"p1"}')
        response = _send(rt, rt.ingest_path(name), body,
                         [("Content-Type", "application/json"),
                          *signed_headers(rt, name, body).items()])
        assert response.status_code in (200, 201, 202), (name, response.text)


def test_no_rate_limit_or_server_error_left_behind(rt: Runtime, tmp_path: Path) -> None:
    """After the fuzzing, the delivery log holds no 5xx for any webhook."""
    with Store.open(rt.database_url, root=rt.root) as store:
        runtime = RuntimeStore(store)
        for name in ALL_HOOKS:
            log = runtime.inbound_log("preview", rt.hooks[name], limit=1000)
            assert all(entry.status_code < 500 for entry in log), [
                (e.status_code, e.reason, e.detail) for e in log if e.status_code >= 500]
