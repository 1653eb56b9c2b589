"""Provider handshakes and Slack form bodies over HTTP, against ``hookplane serve``'s app.

Each request is signed the way its provider signs it: Slack with ``slack_sdk``'s
SignatureVerifier, Zoom and Twitch with their documented algorithms (written here, sharing
nothing with ``hookplane.runtime.verify``). A handshake is answered as the provider asks, writes
no record, and is in the inbound delivery log (CLI and admin API) as ``handshake``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from hookplane.cli.main import run
from hookplane.runtime.app import create_app
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client

ENVIRON = {
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "ZOOM_SECRET_TOKEN": "4Hw0kTNkRauNqjbNVEeysw",
}
ADMIN = "admin-token-for-handshake-tests-0123"
YAML = """\
collections:
  messages:
    schema:
      type: object
      properties:
        text: {type: string}
        command: {type: string}
        user_id: {type: string}
        type: {type: string}
inbound_webhooks:
  slack:
    collection: messages
    rate_limit: {requests: 10000, per_seconds: 60}
    auth: {type: slack, secret: "${env:SLACK_SIGNING_SECRET}"}
  zoom:
    collection: messages
    rate_limit: {requests: 10000, per_seconds: 60}
    auth: {type: zoom, secret: "${env:ZOOM_SECRET_TOKEN}"}
  twitch:
    collection: messages
    rate_limit: {requests: 10000, per_seconds: 60}
    auth: {type: twitch}
  github:
    collection: messages
    rate_limit: {requests: 10000, per_seconds: 60}
    auth: {type: github}
"""


class Server:
    def __init__(self, root: Path, url: str, server: AppServer) -> None:
        self.root, self.url, self.server = root, url, server
        self.http = client(server.url)
        with Store.open(url, root=root) as store:
            self.hooks = {r.name: r.id for r in store.snapshot("preview").resources.values()
                          if r.kind == "inbound_webhooks"}
            self.twitch_secret = store.read_secret("preview", "inbound_webhooks", "twitch",
                                                   "hmac_secret")
            self.github_secret = store.read_secret("preview", "inbound_webhooks", "github",
                                                   "hmac_secret")

    def post(self, name: str, body: bytes, headers: dict[str, str], *,
             content_type: str = "application/json") -> httpx.Response:
        return self.http.post(f"/inbound/preview/{self.hooks[name]}/ingest", content=body,
                              headers={"Content-Type": content_type, **headers})

    def logged(self, name: str) -> list[tuple[int, str, str | None, str | None]]:
        """(status, reason, record id, provider delivery id), newest first."""
        with Store.open(self.url, root=self.root) as store:
            return [(e.status_code, e.reason, e.record_id, e.provider_delivery_id)
                    for e in RuntimeStore(store).inbound_log("preview", self.hooks[name])]

    def records(self) -> list[dict[str, Any]]:
        with Store.open(self.url, root=self.root) as store:
            page, _ = RuntimeStore(store).list("preview", "messages", limit=500)
        return [r.data for r in page]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("handshakes")
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    url = f"sqlite:///{root / 'state.db'}"
    apply_environment(root, url, "preview", ENVIRON)
    app = AppServer(create_app(database_url=url, root=root, run_jobs=False,
                               admin_token=ADMIN)).start()
    subject = Server(root, url, app)
    try:
        yield subject
    finally:
        subject.http.close()
        app.stop()
        monkeypatch.undo()


# --------------------------------------------------------------------------- signers


def slack_headers(body: bytes, *, secret: str = ENVIRON["SLACK_SIGNING_SECRET"],
                  at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    return {"X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
                timestamp=stamp, body=body)}


def zoom_headers(body: bytes, *, secret: str = ENVIRON["ZOOM_SECRET_TOKEN"],
                 at: float | None = None) -> dict[str, str]:
    # developers.zoom.us: "v0=" + hex HMAC-SHA256(secret token, "v0:{timestamp}:{body}")
    stamp = str(int(time.time() if at is None else at))
    mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {"x-zm-request-timestamp": stamp, "x-zm-signature": "v0=" + mac.hexdigest()}


def twitch_headers(body: bytes, kind: str, *, secret: str, message_id: str,
                   at: float | None = None) -> dict[str, str]:
    # dev.twitch.tv: "sha256=" + hex HMAC-SHA256(secret, message id + timestamp + body)
    moment = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, as Twitch sends
    mac = hmac.new(secret.encode(), (message_id + stamp).encode() + body, hashlib.sha256)
    return {"Twitch-Eventsub-Message-Id": message_id,
            "Twitch-Eventsub-Message-Timestamp": stamp,
            "Twitch-Eventsub-Message-Signature": "sha256=" + mac.hexdigest(),
            "Twitch-Eventsub-Message-Type": kind,
            "Twitch-Eventsub-Message-Retry": "0",
            "Twitch-Eventsub-Subscription-Type": "channel.follow",
            "Twitch-Eventsub-Subscription-Version": "2"}


SUBSCRIPTION = {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "channel.follow",
                "version": "2", "status": "webhook_callback_verification_pending",
                "cost": 0, "condition": {"broadcaster_user_id": "12826"},
                "transport": {"method": "webhook",
                              "callback": "https://example.com/webhooks/callback"},
                "created_at": "2019-11-16T10:11:12.634234626Z"}


# --------------------------------------------------------------------------- slack


def test_slack_url_verification_is_answered_without_a_record(server: Server) -> None:
    before = server.records()
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                       "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
                      ).encode()
    answered = server.post("slack", body, slack_headers(body))
    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("application/json")
    assert answered.json() == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert server.records() == before
    assert server.logged("slack")[0] == (200, "handshake", None, None)


def test_a_forged_slack_url_verification_gets_no_challenge(server: Server) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "forged-challenge"}).encode()
    for headers in (slack_headers(body, secret="someone-else"), {}):
        refused = server.post("slack", body, headers)
        assert refused.status_code == 401
        assert "forged-challenge" not in refused.text
    stale = server.post("slack", body, slack_headers(body, at=time.time() - 301))
    assert stale.status_code == 401 and "forged-challenge" not in stale.text
    assert [row[1] for row in server.logged("slack")[:3]] == [
        "stale_timestamp", "missing_header", "bad_signature"]


def test_slack_events_are_still_stored(server: Server) -> None:
    body = json.dumps({"type": "event_callback", "text": "hello from the events api"}).encode()
    stored = server.post("slack", body, slack_headers(body))
    assert stored.status_code == 201, stored.text
    assert {"type": "event_callback", "text": "hello from the events api"} in server.records()


def test_a_slack_event_is_stored_once_per_event_id(server: Server) -> None:
    """Slack retries an event (X-Slack-Retry-Num) signed anew, with the same ``event_id``;
    a captured one sent again within the 5 minutes is the same: one record, then duplicates."""
    body = json.dumps({"type": "event_callback", "event_id": "Ev-once-1",
                       "event": {"type": "app_mention"}, "text": "mentioned once"}).encode()
    assert server.post("slack", body, slack_headers(body)).status_code == 201
    retried = server.post("slack", body, {**slack_headers(body, at=time.time() + 1),
                                          "X-Slack-Retry-Num": "1",
                                          "X-Slack-Retry-Reason": "http_timeout"})
    replayed = server.post("slack", body, slack_headers(body))
    for again in (retried, replayed):
        assert (again.status_code, again.json()["status"]) == (200, "duplicate"), again.text
    assert [r.get("text") for r in server.records()].count("mentioned once") == 1
    assert server.logged("slack")[2][1:] == ("ok", server.logged("slack")[2][2], "Ev-once-1")


def test_slack_interactivity_form_becomes_its_payload(server: Server) -> None:
    interaction = {"type": "block_actions", "user_id": "U0CA5", "text": "approve deploy → prod"}
    body = urllib.parse.urlencode({"payload": json.dumps(interaction)}).encode()
    stored = server.post("slack", body, slack_headers(body),
                         content_type="application/x-www-form-urlencoded")
    assert stored.status_code == 201, stored.text
    assert interaction in server.records()


def test_slack_slash_command_form_becomes_a_flat_object(server: Server) -> None:
    body = (b"token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&channel_id=C2147483705"
            b"&user_id=U2147483697&command=%2Fdeploy&text=api+v2"
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678")
    stored = server.post("slack", body, slack_headers(body),
                         content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert stored.status_code == 201, stored.text
    record = next(r for r in server.records() if r.get("command") == "/deploy")
    assert (record["text"], record["user_id"]) == ("api v2", "U2147483697")


def test_a_slack_form_is_verified_over_the_bytes_as_sent(server: Server) -> None:
    body = b"command=%2Fdeploy&text=prod"
    # the same fields encoded differently: the signature of one is not the other's
    resent = server.post("slack", b"command=/deploy&text=prod", slack_headers(body),
                         content_type="application/x-www-form-urlencoded")
    assert resent.status_code == 401
    assert server.logged("slack")[0][:2] == (401, "bad_signature")
    malformed = b"text=%FF"
    refused = server.post("slack", malformed, slack_headers(malformed),
                          content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 400 and "form" in refused.json()["error"]
    assert server.logged("slack")[0][:2] == (400, "bad_form")


def test_a_signed_json_body_cannot_be_replayed_as_a_form(server: Server) -> None:
    """Content-Type is not signed. A signed JSON delivery whose text happens to hold '=' in
    every '&'-separated piece (a URL's ``?v=4``, a commit message ``&role=admin&z=``) parsed
    as a form with the very same bytes and signature, and was stored as a different record,
    ``{"role": "admin", …}``. An encoder always escapes '{', '}' and '"' in a form: a body
    holding them raw is JSON, refused as a form (400), whatever the signature."""
    body = json.dumps({"avatar_url": "https://avatars.example/u/1?v=4",
                       "message": "fix&role=admin&z=", "n": "replayed-as-form"}).encode()
    mac = hmac.new(server.github_secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={mac}", "X-GitHub-Event": "push"}
    stored = server.post("github", body, {**headers, "X-GitHub-Delivery": "as-json-1"})
    assert stored.status_code == 201, stored.text
    as_form = server.post("github", body, {**headers, "X-GitHub-Delivery": "as-form-1"},
                          content_type="application/x-www-form-urlencoded")
    assert as_form.status_code == 400, as_form.text
    assert server.logged("github")[0][:2] == (400, "bad_form")
    assert not any(r.get("role") == "admin" for r in server.records())


def test_form_bodies_only_where_the_provider_sends_them(server: Server) -> None:
    # GitHub's "application/x-www-form-urlencoded" content type: payload=<json>, signed raw
    body = b"payload=%7B%22text%22%3A%22hi%22%7D"
    signature = hmac.new(server.github_secret.encode(), body, hashlib.sha256).hexdigest()
    taken = server.post("github", body, {"X-Hub-Signature-256": "sha256=" + signature},
                        content_type="application/x-www-form-urlencoded")
    assert taken.status_code == 201, taken.text
    assert server.logged("github")[0][:2] == (201, "ok")
    other = server.post("slack", b"hi", slack_headers(b"hi"), content_type="text/plain")
    assert other.status_code == 415 and "form" in other.json()["error"]


# --------------------------------------------------------------------------- zoom


def test_zoom_url_validation_is_answered_with_the_encrypted_token(server: Server) -> None:
    before = server.records()
    body = json.dumps({"payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
                       "event_ts": 1654503849680, "event": "endpoint.url_validation"}).encode()
    answered = server.post("zoom", body, zoom_headers(body))
    assert answered.status_code == 200, answered.text
    expected = hmac.new(ENVIRON["ZOOM_SECRET_TOKEN"].encode(), b"qgg8vlvZRS6UYooatFL8Aw",
                        hashlib.sha256).hexdigest()
    assert answered.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                               "encryptedToken": expected}
    assert server.records() == before
    assert server.logged("zoom")[0] == (200, "handshake", None, None)


def test_a_forged_or_stale_zoom_validation_is_refused(server: Server) -> None:
    body = json.dumps({"event": "endpoint.url_validation",
                       "payload": {"plainToken": "forged-token"}}).encode()
    forged = server.post("zoom", body, zoom_headers(body, secret="not-the-token"))
    stale = server.post("zoom", body, zoom_headers(body, at=time.time() - 301))
    for refused in (forged, stale):
        assert refused.status_code == 401
        assert "forged-token" not in refused.text and "encryptedToken" not in refused.text
    assert [row[1] for row in server.logged("zoom")[:2]] == ["stale_timestamp",
                                                            "bad_signature"]


def test_zoom_events_are_stored(server: Server) -> None:
    body = json.dumps({"event": "meeting.started", "text": "standup",
                       "payload": {"object": {"id": 85}}}).encode()
    stored = server.post("zoom", body, zoom_headers(body))
    assert stored.status_code == 201, stored.text
    assert any(r.get("text") == "standup" for r in server.records())


# --------------------------------------------------------------------------- twitch


def test_twitch_callback_verification_echoes_the_challenge_as_text(server: Server) -> None:
    before = server.records()
    body = json.dumps({"challenge": "pogchamp-kappa-360noscope-vohiyo",
                       "subscription": SUBSCRIPTION}).encode()
    answered = server.post("twitch", body, twitch_headers(
        body, "webhook_callback_verification", secret=server.twitch_secret,
        message_id="e76c6bd4-55c9-4987-8304-da1588d8988b"))
    assert answered.status_code == 200, answered.text
    assert answered.headers["content-type"].startswith("text/plain")
    assert answered.text == "pogchamp-kappa-360noscope-vohiyo"
    assert server.records() == before
    assert server.logged("twitch")[0] == (200, "handshake", None,
                                          "e76c6bd4-55c9-4987-8304-da1588d8988b")


def test_a_forged_or_stale_twitch_challenge_is_refused(server: Server) -> None:
    body = json.dumps({"challenge": "forged-challenge", "subscription": SUBSCRIPTION}).encode()
    forged = server.post("twitch", body, twitch_headers(
        body, "webhook_callback_verification", secret="not-the-secret-at-all",
        message_id="forged-1"))
    stale = server.post("twitch", body, twitch_headers(
        body, "webhook_callback_verification", secret=server.twitch_secret,
        message_id="stale-1", at=time.time() - 601))
    for refused in (forged, stale):
        assert refused.status_code == 401
        assert "forged-challenge" not in refused.text
    assert [row[1] for row in server.logged("twitch")[:2]] == ["stale_timestamp",
                                                              "bad_signature"]


def test_twitch_revocation_is_logged_and_answered_204(server: Server) -> None:
    before = server.records()
    body = json.dumps({"subscription": {**SUBSCRIPTION, "status": "authorization_revoked"}}
                      ).encode()
    answered = server.post("twitch", body, twitch_headers(
        body, "revocation", secret=server.twitch_secret, message_id="revocation-1"))
    assert answered.status_code == 204 and answered.content == b""
    assert server.records() == before
    assert server.logged("twitch")[0] == (204, "revocation", None, "revocation-1")


def test_twitch_notifications_are_stored_once_per_message_id(server: Server) -> None:
    body = json.dumps({"subscription": {**SUBSCRIPTION, "status": "enabled"},
                       "event": {"user_id": "1337"}, "text": "new follower"}).encode()
    headers = twitch_headers(body, "notification", secret=server.twitch_secret,
                             message_id="notification-1")
    stored = server.post("twitch", body, headers)
    assert stored.status_code == 201, stored.text
    again = server.post("twitch", body, headers)  # Twitch resends with the same message id
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert [r.get("text") for r in server.records()].count("new follower") == 1
    assert [row[1] for row in server.logged("twitch")[:2]] == ["duplicate", "ok"]


def test_a_relabelled_twitch_handshake_is_never_stored_as_an_event(server: Server) -> None:
    """Twitch does not sign Twitch-Eventsub-Message-Type. A verification or revocation seen
    once (its message id was never marked: a handshake stores nothing) and sent again within
    the 10 minutes as a ``notification``, or with the type left out, must not become a record
    that triggers act on: a notification carries ``event`` (``events`` for batched Drops)."""
    before = server.records()
    verification = json.dumps({"challenge": "c-relabel", "subscription": SUBSCRIPTION}).encode()
    revocation = json.dumps({"subscription": {**SUBSCRIPTION,
                                              "status": "authorization_revoked"}}).encode()
    for number, body in enumerate((verification, revocation)):
        headers = twitch_headers(body, "webhook_callback_verification" if number == 0
                                 else "revocation", secret=server.twitch_secret,
                                 message_id=f"relabel-{number}")
        assert server.post("twitch", body, headers).status_code in (200, 204)
        relabelled = server.post("twitch", body, {**headers,
                                                  "Twitch-Eventsub-Message-Type": "notification"})
        assert relabelled.status_code == 400, relabelled.text
        assert "c-relabel" not in relabelled.text
        untyped = {k: v for k, v in headers.items() if k != "Twitch-Eventsub-Message-Type"}
        assert server.post("twitch", body, untyped).status_code == 400
    assert server.records() == before
    assert [row[1] for row in server.logged("twitch")[:3]] == [
        "bad_handshake", "bad_handshake", "revocation"]
    batched = json.dumps({"subscription": {**SUBSCRIPTION, "status": "enabled",
                                           "type": "drop.entitlement.grant"},
                          "events": [{"id": "e-1", "data": {"user_id": "7"}}]}).encode()
    stored = server.post("twitch", batched, twitch_headers(
        batched, "notification", secret=server.twitch_secret, message_id="batched-1"))
    assert stored.status_code == 201, stored.text


# --------------------------------------------------------------------------- visible to users


def test_handshakes_are_listed_by_the_cli_and_the_admin_api(
        server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "listed"}).encode()
    assert server.post("slack", body, slack_headers(body)).status_code == 200
    status = run(["-C", str(server.root), "--no-color", "inbound-webhooks", "deliveries",
                  "preview", "slack", "--json", "--database-url", server.url])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = json.loads(out)
    assert (rows[0]["status_code"], rows[0]["reason"], rows[0]["record_id"]) == (
        200, "handshake", None)
    assert "slack url_verification" in rows[0]["detail"]
    status = run(["-C", str(server.root), "--no-color", "inbound-webhooks", "deliveries",
                  "preview", "slack", "--database-url", server.url])
    assert status == 0 and "handshake" in capsys.readouterr().out.splitlines()[0]
    admin = server.http.get("/admin/preview/inbound-webhooks/slack/deliveries",
                            headers={"Authorization": f"Bearer {ADMIN}"})
    assert admin.status_code == 200, admin.text
    assert admin.json()["data"][0]["reason"] == "handshake"
