"""Provider handshakes are answered, never stored; Slack's form bodies are accepted.

Slack's Events API proves a request URL with a signed ``{"type": "url_verification",
"challenge": …}`` and waits for the challenge back; Hookplane stored it as a record and
answered 201, so Slack never accepted the URL. Slack's interactivity and slash commands post
``application/x-www-form-urlencoded`` bodies, which were answered 415. Zoom
(``endpoint.url_validation``) and Twitch EventSub (``webhook_callback_verification``,
``revocation``) had no preset at all. Now each handshake is answered as the provider asks,
writes no record and is logged as ``handshake`` (``revocation`` for Twitch's notice); a forged
or stale one gets 401 and never the challenge; Slack form bodies are verified over the bytes
as sent, and every other auth type still refuses a form with 415.

Hostile edges: the one handshake input that is not signed (Twitch's message-type header)
cannot turn a captured notification into a second record or echo anything unsigned; forms
are bounded (fields, nesting, encoding) like JSON bodies.
"""

from __future__ import annotations

import json
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookplane.runtime.app import create_app
from hookplane.runtime.ingest import MAX_FORM_FIELDS, MAX_JSON_DEPTH
from tests.integration.runtime.harness import AppServer, apply_environment
from tests.integration.runtime.test_handshakes import (
    ENVIRON,
    SUBSCRIPTION,
    YAML,
    Server,
    slack_headers,
    twitch_headers,
    zoom_headers,
)

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", ENVIRON)
    app = AppServer(create_app(database_url=url, root=tmp_path, run_jobs=False)).start()
    subject = Server(tmp_path, url, app)
    try:
        yield subject
    finally:
        subject.http.close()
        app.stop()


def test_slack_url_verification_is_not_stored_as_a_record(server: Server) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-1"}).encode()
    answered = server.post("slack", body, slack_headers(body))
    assert (answered.status_code, answered.json()) == (200, {"challenge": "c-1"})
    forged = server.post("slack", body, slack_headers(body, secret="guessed"))
    assert forged.status_code == 401 and "c-1" not in forged.text
    assert server.records() == []
    assert [row[:3] for row in server.logged("slack")] == [
        (401, "bad_signature", None), (200, "handshake", None)]


def test_slack_forms_are_accepted_and_other_types_still_refuse_them(server: Server) -> None:
    command = b"command=%2Fdeploy&text=api&user_id=U1"
    interaction = urllib.parse.urlencode(
        {"payload": json.dumps({"type": "block_actions", "user_id": "U2"})}).encode()
    for body in (command, interaction):
        stored = server.post("slack", body, slack_headers(body), content_type=FORM)
        assert stored.status_code == 201, stored.text
    assert sorted(r["user_id"] for r in server.records()) == ["U1", "U2"]
    unsigned = server.post("github", command, {}, content_type=FORM)  # GitHub posts forms too
    assert unsigned.status_code == 401, unsigned.text
    for name, headers in (("zoom", zoom_headers(command)),
                          ("twitch", twitch_headers(command, "notification",
                                                    secret=server.twitch_secret,
                                                    message_id="m-1"))):
        refused = server.post(name, command, headers, content_type=FORM)
        assert refused.status_code == 415, (name, refused.text)


def test_zoom_and_twitch_handshakes_are_answered_and_forgeries_are_not(server: Server) -> None:
    zoom = json.dumps({"event": "endpoint.url_validation",
                       "payload": {"plainToken": "p-1"}}).encode()
    assert set(server.post("zoom", zoom, zoom_headers(zoom)).json()) == {"plainToken",
                                                                       "encryptedToken"}
    forged = server.post("zoom", zoom, zoom_headers(zoom, secret="guessed"))
    assert forged.status_code == 401 and "p-1" not in forged.text
    twitch = json.dumps({"challenge": "c-2", "subscription": SUBSCRIPTION}).encode()
    answered = server.post("twitch", twitch, twitch_headers(
        twitch, "webhook_callback_verification", secret=server.twitch_secret,
        message_id="v-1"))
    assert (answered.status_code, answered.text) == (200, "c-2")
    forged = server.post("twitch", twitch, twitch_headers(
        twitch, "webhook_callback_verification", secret="guessed-secret-value",
        message_id="v-2"))
    assert forged.status_code == 401 and "c-2" not in forged.text
    assert server.records() == []


def test_twitchs_unsigned_message_type_cannot_duplicate_or_reflect(server: Server) -> None:
    body = json.dumps({"subscription": SUBSCRIPTION, "event": {"user_id": "7"},
                       "text": "<script>alert(1)</script>"}).encode()
    headers = twitch_headers(body, "notification", secret=server.twitch_secret,
                             message_id="n-1")
    assert server.post("twitch", body, headers).status_code == 201
    # a replay within the window, relabelled: no second record, nothing echoed
    for kind, status in (("revocation", 204), ("webhook_callback_verification", 400),
                         ("notification", 200)):
        replay = server.post("twitch", body, {**headers, "Twitch-Eventsub-Message-Type": kind})
        assert replay.status_code == status, (kind, replay.text)
        assert "<script>" not in replay.text
    assert len(server.records()) == 1
    assert [row[1] for row in server.logged("twitch")] == [
        "duplicate", "bad_handshake", "revocation", "ok"]


@pytest.mark.parametrize("body", [
    b"&".join(b"f%d=1" % i for i in range(MAX_FORM_FIELDS + 1)),
    b"payload=" + urllib.parse.quote("[" * (MAX_JSON_DEPTH + 1)).encode(),
    b"a=1&a=2",
    b"text=%C3%28",
    b'{"type": "url_verification", "challenge": "c"}',
])
def test_hostile_forms_are_refused_400(server: Server, body: bytes) -> None:
    refused = server.post("slack", body, slack_headers(body), content_type=FORM)
    assert refused.status_code == 400, refused.text
    assert server.logged("slack")[0][:2] == (400, "bad_form")
    assert server.records() == []
