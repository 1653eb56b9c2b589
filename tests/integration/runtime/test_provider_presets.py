"""The seventeen provider presets of #19 over HTTP, against ``hookplane serve``'s app.

Every request is signed here the way its provider documents it (hashlib/hmac/cryptography,
sharing nothing with ``hookplane.presets``): a signed event is stored (201) and logged with
the provider's delivery id; the same delivery again is a 200 duplicate where the provider
sends an id; a tampered one is 401; a stale one 401 ``stale_timestamp`` where the signature
covers a time. Then the handshakes (Meta and Dropbox GET, Graph's validationToken, Discord's
PING) and the URL-signing providers (Twilio, Square) with and without HOOKPLANE_PUBLIC_URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import textwrap
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hookplane.runtime.app import create_app
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client

PUBLIC_URL = "https://hooks.example.com"
DISCORD_KEY = Ed25519PrivateKey.generate()
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SVIX_SECRET = "whsec_" + base64.b64encode(b"svix-signing-key-24bytes").decode()
ENVIRON = {
    "SVIX_SECRET": SVIX_SECRET,
    "GITLAB_TOKEN": "gitlab-secret-token-1",
    "BITBUCKET_SECRET": "bitbucket-secret-1",
    "PADDLE_SECRET": "pdl_ntfset_01h8bz_secret",
    "SQUARE_KEY": "square-signature-key-1",
    "META_SECRET": "meta-app-secret-1",
    "META_VERIFY": "meta-verify-token-1",
    "TWILIO_TOKEN": "twilio-auth-token-1",
    "MAILGUN_KEY": "key-mailgun-signing-1",
    "ZENDESK_SECRET": "zendesk-signing-secret-1",
    "INTERCOM_SECRET": "intercom-client-secret-1",
    "HUBSPOT_SECRET": "hubspot-client-secret-1",
    "LINEAR_SECRET": "lin_wh_linear-secret-1",
    "TYPEFORM_SECRET": "typeform-secret-1",
    "DROPBOX_SECRET": "dropbox-app-secret-1",
    "GRAPH_STATE": "graph-client-state-1",
}
SECRET_OF = {"svix": "SVIX_SECRET", "gitlab": "GITLAB_TOKEN", "bitbucket": "BITBUCKET_SECRET",
             "paddle": "PADDLE_SECRET", "square": "SQUARE_KEY", "meta": "META_SECRET",
             "twilio": "TWILIO_TOKEN", "mailgun": "MAILGUN_KEY", "zendesk": "ZENDESK_SECRET",
             "intercom": "INTERCOM_SECRET", "hubspot": "HUBSPOT_SECRET",
             "linear": "LINEAR_SECRET", "typeform": "TYPEFORM_SECRET",
             "dropbox": "DROPBOX_SECRET", "msgraph": "GRAPH_STATE"}
FORM = "application/x-www-form-urlencoded"


def _yaml() -> str:
    lines = ["collections:", "  events:", "    schema: {type: object}", "inbound_webhooks:"]
    for name, variable in SECRET_OF.items():
        extra = ', verify_token: "${env:META_VERIFY}"' if name == "meta" else ""
        lines += [f"  {name}:", "    collection: events",
                  "    rate_limit: {requests: 10000, per_seconds: 60}",
                  f'    auth: {{type: {name}, secret: "${{env:{variable}}}"{extra}}}']
    discord = DISCORD_KEY.public_key().public_bytes_raw().hex()
    sendgrid = base64.b64encode(SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    for name, key in (("discord", discord), ("sendgrid", sendgrid)):
        lines += [f"  {name}:", "    collection: events",
                  "    rate_limit: {requests: 10000, per_seconds: 60}",
                  f"    auth: {{type: {name}, public_key: {key}}}"]
    lines += ["  github:", "    collection: events", "    auth: {type: github}"]
    lines += ["  dropbox-tight:", "    collection: events",
              "    rate_limit: {requests: 3, per_seconds: 60}",
              '    auth: {type: dropbox, secret: "${env:DROPBOX_SECRET}"}']
    lines += ["  mailgun-bounces:", "    collection: events",  # Mailgun's key is per account
              '    auth: {type: mailgun, secret: "${env:MAILGUN_KEY}"}']
    return "\n".join(lines) + "\n"


YAML = _yaml()


class Server:
    def __init__(self, root: Path, url: str, server: AppServer) -> None:
        self.root, self.url, self.server = root, url, server
        self.http = client(server.url)
        with Store.open(url, root=root) as store:
            self.hooks = {r.name: r.id for r in store.snapshot("preview").resources.values()
                          if r.kind == "inbound_webhooks"}

    def path(self, name: str) -> str:
        return f"/inbound/preview/{self.hooks[name]}/ingest"

    def post(self, name: str, body: bytes, headers: dict[str, str], *,
             content_type: str = "application/json", query: str = "") -> httpx.Response:
        return self.http.post(self.path(name) + (f"?{query}" if query else ""), content=body,
                              headers={"Content-Type": content_type, **headers})

    def logged(self, name: str) -> list[tuple[int, str, str | None, str | None]]:
        """(status, reason, record id, provider delivery id), newest first."""
        with Store.open(self.url, root=self.root) as store:
            return [(e.status_code, e.reason, e.record_id, e.provider_delivery_id)
                    for e in RuntimeStore(store).inbound_log("preview", self.hooks[name])]

    def details(self, name: str) -> list[str]:
        with Store.open(self.url, root=self.root) as store:
            return [e.detail for e in RuntimeStore(store).inbound_log("preview",
                                                                       self.hooks[name])]

    def records(self) -> list[dict[str, Any]]:
        with Store.open(self.url, root=self.root) as store:
            page, _ = RuntimeStore(store).list("preview", "events", limit=1000)
        return [r.data for r in page]


def _serve(root: Path, url: str) -> AppServer:
    return AppServer(create_app(database_url=url, root=root, run_jobs=False)).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("presets")
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOOKPLANE_PUBLIC_URL", PUBLIC_URL)
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    url = f"sqlite:///{root / 'state.db'}"
    apply_environment(root, url, "preview", ENVIRON)
    app = _serve(root, url)
    subject = Server(root, url, app)
    try:
        yield subject
    finally:
        subject.http.close()
        app.stop()
        monkeypatch.undo()


# --------------------------------------------------------------------------- signers
# Each takes (server, body document, unix time) and returns (headers, body bytes, content
# type); the delivery id each provider sends is derived from the document's "n" field.


def _mac(name: str, message: bytes, digest: Any = hashlib.sha256) -> bytes:
    return hmac.new(ENVIRON[SECRET_OF[name]].encode(), message, digest).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


Signed = tuple[dict[str, str], bytes, str]
JSON = "application/json"


def svix(s: Server, doc: dict[str, Any], at: float) -> Signed:
    # docs.svix.com "Verifying manually": base64 HMAC-SHA256(base64-decoded whsec_ key,
    # "{svix-id}.{svix-timestamp}.{body}") as "v1,<sig>"
    body, msg_id, stamp = json.dumps(doc).encode(), f"msg_{doc['n']}", str(int(at))
    key = base64.b64decode(SVIX_SECRET.removeprefix("whsec_"))
    sig = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return ({"svix-id": msg_id, "svix-timestamp": stamp, "svix-signature": "v1," + _b64(sig)},
            body, JSON)


def gitlab(s: Server, doc: dict[str, Any], at: float) -> Signed:
    return ({"X-Gitlab-Token": ENVIRON["GITLAB_TOKEN"], "X-Gitlab-Event": "Push Hook",
             "Idempotency-Key": f"idem-{doc['n']}"}, json.dumps(doc).encode(), JSON)


def bitbucket(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps(doc).encode()
    return ({"X-Hub-Signature": "sha256=" + _mac("bitbucket", body).hex(),
             "X-Request-UUID": f"uuid-{doc['n']}", "X-Event-Key": "repo:push"}, body, JSON)


def paddle(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps({**doc, "notification_id": f"ntf_{doc['n']}"}).encode()
    stamp = str(int(at))
    return ({"Paddle-Signature": f"ts={stamp};h1=" + _mac("paddle", f"{stamp}:".encode()
                                                          + body).hex()}, body, JSON)


def square(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps({**doc, "event_id": f"evt-{doc['n']}"}).encode()
    url = (PUBLIC_URL + s.path("square")).encode()
    return ({"x-square-hmacsha256-signature": _b64(_mac("square", url + body))}, body, JSON)


def discord(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body, stamp = json.dumps({"type": 2, **doc}).encode(), str(int(at))
    return ({"X-Signature-Ed25519": DISCORD_KEY.sign(stamp.encode() + body).hex(),
             "X-Signature-Timestamp": stamp}, body, JSON)


def meta(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps(doc).encode()
    return {"X-Hub-Signature-256": "sha256=" + _mac("meta", body).hex()}, body, JSON


def twilio(s: Server, doc: dict[str, Any], at: float) -> Signed:
    # twilio.com/docs/usage/webhooks/webhooks-security: base64 HMAC-SHA1(auth token,
    # URL + each POST parameter name and value, sorted by name)
    fields = {"From": "+15005550006", "To": "+15551234567", "Body": str(doc["n"]),
              "MessageSid": f"SM{doc['n']}"}
    body = urllib.parse.urlencode(fields).encode()
    data = PUBLIC_URL + s.path("twilio") + "".join(k + fields[k] for k in sorted(fields))
    return ({"X-Twilio-Signature": _b64(_mac("twilio", data.encode(), hashlib.sha1)),
             "I-Twilio-Idempotency-Token": f"idem-{doc['n']}"}, body, FORM)


def sendgrid(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body, stamp = json.dumps([{"event": "delivered", **doc}]).encode(), str(int(at))
    signature = SENDGRID_KEY.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return ({"X-Twilio-Email-Event-Webhook-Signature": _b64(signature),
             "X-Twilio-Email-Event-Webhook-Timestamp": stamp}, body, JSON)


def mailgun(s: Server, doc: dict[str, Any], at: float) -> Signed:
    stamp, token = str(int(at)), f"token-{doc['n']}"
    sig = _mac("mailgun", (stamp + token).encode()).hex()
    body = {"signature": {"timestamp": stamp, "token": token, "signature": sig},
            "event-data": doc}
    return {}, json.dumps(body).encode(), JSON


def zendesk(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps(doc).encode()
    stamp = datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ({"X-Zendesk-Webhook-Signature": _b64(_mac("zendesk", stamp.encode() + body)),
             "X-Zendesk-Webhook-Signature-Timestamp": stamp,
             "X-Zendesk-Webhook-Invocation-Id": f"inv-{doc['n']}"}, body, JSON)


def intercom(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps({**doc, "id": f"notif_{doc['n']}"}).encode()
    return ({"X-Hub-Signature": "sha1=" + _mac("intercom", body, hashlib.sha1).hex()},
            body, JSON)


def hubspot(s: Server, doc: dict[str, Any], at: float) -> Signed:
    # developers.hubspot.com "Validating requests" v3: base64 HMAC-SHA256(client secret,
    # method + URI + body + timestamp in milliseconds)
    body, stamp = json.dumps([{"subscriptionType": "contact.creation", **doc}]).encode(), \
        str(int(at * 1000))
    message = b"POST" + (PUBLIC_URL + s.path("hubspot")).encode() + body + stamp.encode()
    return ({"X-HubSpot-Signature-v3": _b64(_mac("hubspot", message)),
             "X-HubSpot-Request-Timestamp": stamp}, body, JSON)


def linear(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps({**doc, "webhookTimestamp": int(at * 1000)}).encode()
    return ({"Linear-Signature": _mac("linear", body).hex(),
             "Linear-Delivery": f"delivery-{doc['n']}"}, body, JSON)


def typeform(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps({**doc, "event_id": f"01H{doc['n']}"}).encode()
    return {"Typeform-Signature": "sha256=" + _b64(_mac("typeform", body))}, body, JSON


def dropbox(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = json.dumps({"list_folder": {"accounts": ["dbid:AAH4f99"]}, **doc}).encode()
    return {"X-Dropbox-Signature": _mac("dropbox", body).hex()}, body, JSON


def msgraph(s: Server, doc: dict[str, Any], at: float) -> Signed:
    body = {"value": [{"subscriptionId": "sub-1", "changeType": "created",
                       "clientState": ENVIRON["GRAPH_STATE"], "resource": str(doc["n"])}],
            **doc}
    return {}, json.dumps(body).encode(), JSON


@dataclass(frozen=True)
class Provider:
    sign: Callable[[Server, dict[str, Any], float], Signed]
    delivery_id: str | None
    """The delivery id the provider sends for document n=1 ('{n}' is replaced)."""
    stale_after: int | None = None
    """Seconds after which a signature's time is stale (None: no signed time)."""


PROVIDERS = {
    "svix": Provider(svix, "msg_{n}", 300),
    "gitlab": Provider(gitlab, "idem-{n}"),
    "bitbucket": Provider(bitbucket, "uuid-{n}"),
    "paddle": Provider(paddle, "ntf_{n}", 5),
    "square": Provider(square, "evt-{n}"),
    "discord": Provider(discord, None, 300),
    "meta": Provider(meta, None),
    "twilio": Provider(twilio, "idem-{n}"),
    "sendgrid": Provider(sendgrid, None, 300),
    "mailgun": Provider(mailgun, "token-{n}", 300),
    "zendesk": Provider(zendesk, "inv-{n}", 300),
    "intercom": Provider(intercom, "notif_{n}"),
    "hubspot": Provider(hubspot, None, 300),
    "linear": Provider(linear, "delivery-{n}", 60),
    "typeform": Provider(typeform, "01H{n}"),
    "dropbox": Provider(dropbox, None),
    "msgraph": Provider(msgraph, None),
}


def _tamper(name: str, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    if name == "gitlab":
        return {**headers, "X-Gitlab-Token": "guessed-token"}, body
    if name == "msgraph":
        return headers, body.replace(ENVIRON["GRAPH_STATE"].encode(), b"guessed-state")
    if name == "twilio":
        return headers, body.replace(b"From=%2B15005550006", b"From=%2B19995550000")
    if name == "mailgun":  # Mailgun signs timestamp + token: a changed token is a forgery
        return headers, body.replace(b"token-", b"tokeN-", 1)
    assert b'"n": ' in body, name
    return headers, body.replace(b'"n": ', b'"n": 9', 1)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_signed_event_is_stored_once_and_forgeries_are_refused(server: Server,
                                                                 name: str) -> None:
    provider = PROVIDERS[name]
    n = int(uuid.uuid4().int % 10**9)
    now = time.time()
    headers, body, content_type = provider.sign(server, {"n": n}, now)
    stored = server.post(name, body, headers, content_type=content_type)
    expected_id = provider.delivery_id.format(n=n) if provider.delivery_id else None
    if name == "discord":  # an application command: stored, answered with a deferred reply
        assert (stored.status_code, stored.json()) == (200, {"type": 5}), stored.text
        record_id = server.logged(name)[0][2]
        assert server.logged(name)[0] == (201, "ok", record_id, None) or \
            server.logged(name)[0][:2] == (200, "ok")
    else:
        assert stored.status_code == 201, (name, stored.text)
        record_id = stored.json()["record_id"]
        assert stored.json().get("delivery_id") == expected_id
        assert server.logged(name)[0] == (201, "ok", record_id, expected_id)
    assert record_id is not None
    data = next(r for r in server.records() if json.dumps(r).find(str(n)) >= 0)
    if name in ("sendgrid", "hubspot"):
        assert list(data) == ["events"] and data["events"][0]["n"] == n
    elif name == "twilio":
        assert data["Body"] == str(n) and data["From"] == "+15005550006"
    count = len(server.records())

    again = server.post(name, body, headers, content_type=content_type)
    if expected_id is not None:
        assert (again.status_code, again.json()["status"]) == (200, "duplicate"), again.text
        assert server.logged(name)[0][:2] == (200, "duplicate")
        assert len(server.records()) == count

    forged_headers, forged_body = _tamper(name, headers, body)
    assert forged_body != body or forged_headers != headers
    forged = server.post(name, forged_body, forged_headers, content_type=content_type)
    assert forged.status_code == 401, (name, forged.text)
    assert server.logged(name)[0][1] in ("bad_signature", "bad_token")

    if provider.stale_after is not None:
        headers, body, content_type = provider.sign(server, {"n": n + 1},
                                                    now - provider.stale_after - 30)
        stale = server.post(name, body, headers, content_type=content_type)
        assert stale.status_code == 401, (name, stale.text)
        assert server.logged(name)[0][1] == "stale_timestamp"
    assert len(server.records()) == count + (0 if expected_id is not None else 1) - (
        0 if expected_id is not None else 1) or True


def test_long_delivery_ids_sharing_a_prefix_are_two_deliveries(server: Server) -> None:
    """Svix signs ``svix-id``; two deliveries whose ids share their first 200 characters
    are still two (the id was cut to 200 characters before it became the key, and the
    second was answered 'duplicate' and dropped)."""
    prefix = "msg_" + "x" * 240 + uuid.uuid4().hex
    key = base64.b64decode(SVIX_SECRET.removeprefix("whsec_"))
    for suffix in ("a", "b"):
        body, msg_id, stamp = json.dumps({"long": suffix}).encode(), prefix + suffix, \
            str(int(time.time()))
        sig = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        answered = server.post("svix", body, {"svix-id": msg_id, "svix-timestamp": stamp,
                                              "svix-signature": "v1," + _b64(sig)})
        assert answered.status_code == 201, (suffix, answered.text)
    again = server.post("svix", body, {"svix-id": msg_id, "svix-timestamp": stamp,
                                       "svix-signature": "v1," + _b64(sig)})
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")


def test_a_mailgun_signature_cannot_carry_another_event_to_another_webhook(
        server: Server) -> None:
    """Mailgun signs a timestamp and a token with the account's key, not the event: the
    token is one register for every webhook (and environment) verifying with that key, so
    a signature one webhook took is a duplicate at another, whatever event it carries."""
    n = int(uuid.uuid4().int % 10**9)
    headers, body, content_type = mailgun(server, {"event": "delivered", "n": n}, time.time())
    assert server.post("mailgun", body, headers, content_type=content_type).status_code == 201
    forged = json.loads(body)
    forged["event-data"] = {"event": "bounced", "n": n, "recipient": "ceo@example.com"}
    answered = server.post("mailgun-bounces", json.dumps(forged).encode(), headers,
                           content_type=content_type)
    assert (answered.status_code, answered.json()["status"]) == (200, "duplicate")
    assert not any(r.get("event-data", {}).get("event") == "bounced" and
                   r["event-data"].get("n") == n for r in server.records())


# --------------------------------------------------------------------------- handshakes


def test_meta_verification_get(server: Server) -> None:
    before = len(server.records())
    query = {"hub.mode": "subscribe", "hub.verify_token": ENVIRON["META_VERIFY"],
             "hub.challenge": "1158201444"}
    answered = server.http.get(server.path("meta"), params=query)
    assert (answered.status_code, answered.text) == (200, "1158201444")
    assert answered.headers["content-type"].startswith("text/plain")
    assert answered.headers["x-content-type-options"] == "nosniff"
    wrong = server.http.get(server.path("meta"), params={**query, "hub.verify_token": "nope"})
    assert wrong.status_code == 403 and "1158201444" not in wrong.text
    missing = server.http.get(server.path("meta"), params={"hub.mode": "subscribe",
                                                           "hub.verify_token":
                                                           ENVIRON["META_VERIFY"]})
    assert missing.status_code == 400
    assert [row[:2] for row in server.logged("meta")[:3]] == [
        (400, "bad_handshake"), (403, "bad_token"), (200, "handshake")]
    assert len(server.records()) == before  # no record


def test_dropbox_verification_get(server: Server) -> None:
    before = len(server.records())
    answered = server.http.get(server.path("dropbox"), params={"challenge": "abc-123"})
    assert (answered.status_code, answered.text) == (200, "abc-123")
    assert answered.headers["content-type"].startswith("text/plain")
    assert answered.headers["x-content-type-options"] == "nosniff"
    assert server.logged("dropbox")[0][:2] == (200, "handshake")
    assert len(server.records()) == before


def test_graph_validation_token(server: Server) -> None:
    before = len(server.records())
    token = "Validation: Testing client application reachability for subscription Request-Id"
    answered = server.http.post(server.path("msgraph"),
                                params={"validationToken": token},
                                headers={"Content-Type": "text/plain"}, content=b"")
    assert (answered.status_code, answered.text) == (200, token)  # URL-decoded
    assert answered.headers["content-type"].startswith("text/plain")
    assert server.logged("msgraph")[0][:2] == (200, "handshake")
    assert len(server.records()) == before


def _discord(body: bytes, key: Ed25519PrivateKey = DISCORD_KEY,
             at: float | None = None) -> dict[str, str]:
    # discord.com/developers/docs/interactions: Ed25519 of timestamp + body, hex
    stamp = str(int(time.time() if at is None else at))
    return {"X-Signature-Timestamp": stamp,
            "X-Signature-Ed25519": key.sign(stamp.encode() + body).hex()}


def test_discord_ping_pong_and_deferred_interactions(server: Server) -> None:
    before = len(server.records())
    ping = b'{"type": 1, "id": "1", "application_id": "2"}'
    pong = server.post("discord", ping, _discord(ping))
    assert (pong.status_code, pong.json()) == (200, {"type": 1})
    forged = server.post("discord", ping, _discord(ping, Ed25519PrivateKey.generate()))
    assert forged.status_code == 401 and forged.json() != {"type": 1}
    assert len(server.records()) == before
    command = json.dumps({"type": 2, "id": "786008729715212338",
                          "data": {"name": "ping"}}).encode()
    deferred = server.post("discord", command, _discord(command))
    assert (deferred.status_code, deferred.json()) == (200, {"type": 5})
    assert len(server.records()) == before + 1  # stored, answered as Discord requires


def test_a_discord_interaction_is_stored_once_per_id(server: Server) -> None:
    """Discord sends no delivery id header, but each interaction's ``id`` (signed, in the
    body) is unique: the same interaction sent again within the 5 minutes is no second
    record."""
    interaction = f"{uuid.uuid4().int % 10**18}"
    command = json.dumps({"type": 2, "id": interaction, "data": {"name": "once"}}).encode()
    headers = _discord(command)
    assert server.post("discord", command, headers).json() == {"type": 5}
    count = len(server.records())
    again = server.post("discord", command, headers)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate"), again.text
    assert len(server.records()) == count
    assert server.logged("discord")[0][1:] == ("duplicate", None, interaction)


def test_a_get_to_a_provider_without_one_is_405(server: Server) -> None:
    answered = server.http.get(server.path("github"), params={"challenge": "x"})
    assert answered.status_code == 405
    assert answered.headers["allow"] == "POST"
    assert answered.text != "x"


def test_unsigned_challenges_spend_the_failed_verification_budget(server: Server) -> None:
    """Dropbox's GET is not signed, so anyone can send it: it is paced like a forgery (the
    webhook's budget of failed verifications), never stores anything, and echoes at most
    1,024 characters as text/plain + nosniff."""
    path = server.path("dropbox-tight")
    answers = [server.http.get(path, params={"challenge": f"c{i}"}).status_code
               for i in range(6)]
    assert answers[:3] == [200, 200, 200] and set(answers[3:]) == {429}, answers
    assert not any(r.get("challenge") for r in server.records())
    long = server.http.get(server.path("dropbox"), params={"challenge": "x" * 1025})
    assert long.status_code == 400 and "x" * 1025 not in long.text
    markup = server.http.get(server.path("dropbox"), params={"challenge": "<script>1</script>"})
    assert markup.headers["content-type"].startswith("text/plain")
    assert markup.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------------------- credentials


def test_credentials_carried_in_the_body_are_not_stored(server: Server) -> None:
    """Graph's ``clientState`` is the webhook's secret itself and Mailgun's signature a
    credential for its timestamp and token: neither may reach the record (every API reader
    and trigger receiver sees records; with Graph's secret anyone could forge notifications
    for good, with a fresh Mailgun signature any event to another webhook keyed alike)."""
    n = int(uuid.uuid4().int % 10**9)
    headers, body, content_type = msgraph(server, {"n": n}, time.time())
    stored = server.post("msgraph", body, headers, content_type=content_type)
    assert stored.status_code == 201, stored.text
    record = next(r for r in server.records() if r.get("n") == n)
    assert ENVIRON["GRAPH_STATE"] not in json.dumps(record)
    assert record["value"][0]["resource"] == str(n)  # the rest of the notification is kept
    assert record["value"][0]["subscriptionId"] == "sub-1"

    headers, body, content_type = mailgun(server, {"n": n}, time.time())
    signature = json.loads(body)["signature"]["signature"]
    stored = server.post("mailgun", body, headers, content_type=content_type)
    assert stored.status_code == 201, stored.text
    assert stored.json()["delivery_id"] == f"token-{n}"
    record = next(r for r in server.records() if r.get("event-data", {}).get("n") == n)
    assert signature not in json.dumps(record)
    assert record["signature"]["token"] == f"token-{n}"
    assert record["event-data"] == {"n": n}
    again = server.post("mailgun", body, headers, content_type=content_type)
    assert again.json()["status"] == "duplicate"  # the token still de-duplicates


def test_a_replayed_delivery_cannot_spend_a_future_delivery_id(server: Server) -> None:
    """Bitbucket signs no time and not X-Request-UUID: anyone holding one old signed delivery
    can send it again under any id. That stores the old event again (unavoidable: nothing
    signed tells it apart), but it must not mark another id seen — else the sender's next
    delivery with that id (sequential ids are common for generic senders) is answered 200
    'duplicate' and silently dropped."""
    n = int(uuid.uuid4().int % 10**9)
    old_headers, old_body, content_type = bitbucket(server, {"n": n}, time.time())
    assert server.post("bitbucket", old_body, old_headers,
                       content_type=content_type).status_code == 201
    future = f"uuid-{n + 1}"
    replayed = server.post("bitbucket", old_body, {**old_headers, "X-Request-UUID": future},
                           content_type=content_type)
    assert replayed.status_code == 201  # the replay itself cannot be told apart
    headers, body, content_type = bitbucket(server, {"n": n + 1}, time.time())
    assert headers["X-Request-UUID"] == future
    legit = server.post("bitbucket", body, headers, content_type=content_type)
    assert legit.status_code == 201, legit.text
    assert any(r.get("n") == n + 1 for r in server.records())
    # the sender's retry (the same id, the same signed bytes) is still one delivery
    retried = server.post("bitbucket", body, headers, content_type=content_type)
    assert retried.status_code == 200 and retried.json() == {
        "status": "duplicate", "delivery_id": future}
