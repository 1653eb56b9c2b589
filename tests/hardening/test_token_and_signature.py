"""A bearer token plus a body signature: both checked, neither excuses the other.

Auth was one type per webhook, so a webhook authenticated with a token (PromptRails'
``Authorization: Bearer …``) could not also require ``X-Webhook-Signature: sha256=…``, and a
forged signature sent with a valid token was accepted. With ``auth: {type: bearer,
signature: {}}`` a delivery needs the current token and the HMAC of its own body; an
attacker who holds the token (a leaked CI variable) cannot write a body it has not signed,
and a captured signed delivery cannot be sent with a guessed token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hookplane.runtime.app import create_app
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client

YAML = """\
collections:
  runs:
    schema: {type: object, properties: {message: {type: string}}}
inbound_webhooks:
  agent:
    collection: runs
    auth: {type: bearer, signature: {}}
    rate_limit: {requests: 100000, per_seconds: 60}
"""


TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
"""Storable text (a NUL or a lone surrogate is refused with 400 before authentication)."""


class Server:
    def __init__(self, root: Path, url: str, server: AppServer) -> None:
        self.root, self.url = root, url
        self.http = client(server.url)
        with Store.open(url, root=root) as store:
            self.hook = store.snapshot("preview").resources["inbound_webhooks.agent"].id
            self.token = store.reveal_token("preview", "inbound_webhooks", "agent")
            self.secret = store.read_secret("preview", "inbound_webhooks", "agent",
                                            "hmac_secret")

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(f"/inbound/preview/{self.hook}/ingest", content=body,
                              headers={"Content-Type": "application/json", **headers})

    def sign(self, body: bytes, key: str | None = None) -> str:
        """As the seed's sender: hmac.new(secret.encode(), payload, sha256).hexdigest()."""
        return "sha256=" + hmac.new((key or self.secret).encode(), body,
                                    hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("token-and-signature")
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    url = f"sqlite:///{root / 'state.db'}"
    apply_environment(root, url, "preview", {})
    app = AppServer(create_app(database_url=url, root=root, run_jobs=False)).start()
    subject = Server(root, url, app)
    try:
        yield subject
    finally:
        subject.http.close()
        app.stop()


def test_the_token_and_a_signature_of_the_body_are_both_required(server: Server) -> None:
    body = b'{"message": "Review this PR"}'
    token = {"Authorization": f"Bearer {server.token}"}
    accepted = server.post(body, {**token, "X-Webhook-Signature": server.sign(body)})
    assert accepted.status_code == 201, accepted.text
    refused = {
        "missing_header": server.post(body, token),
        "bad_signature": server.post(body, {**token,
                                            "X-Webhook-Signature": server.sign(body, "guess")}),
        "bad_token": server.post(body, {"Authorization": "Bearer hpt_guess",
                                        "X-Webhook-Signature": server.sign(body)}),
    }
    assert {reason: r.status_code for reason, r in refused.items()} == dict.fromkeys(refused, 401)
    with Store.open(server.url, root=server.root) as store:
        logged = [e.reason for e in RuntimeStore(store).inbound_log("preview", server.hook)][:3]
    assert logged == ["bad_token", "bad_signature", "missing_header"]
    # nothing the sender proved is echoed back: neither the token nor the secret
    for response in (accepted, *refused.values()):
        assert server.token not in response.text and server.secret not in response.text


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(message=st.text(TEXT, max_size=40), other=st.text(TEXT, max_size=40))
def test_a_valid_token_never_carries_a_body_signed_for_another(server: Server, message: str,
                                                               other: str) -> None:
    body = json.dumps({"message": message}).encode()
    forged_for = json.dumps({"message": other}).encode()
    headers = {"Authorization": f"Bearer {server.token}",
               "X-Webhook-Signature": server.sign(forged_for)}
    expected = 201 if body == forged_for else 401
    assert server.post(body, headers).status_code == expected
