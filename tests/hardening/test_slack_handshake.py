"""Slack's URL check is answered, and only when Slack signed it.

Slack's Events API posts ``{"type": "url_verification", "challenge": …}`` before the first
event and accepts the URL only when the challenge comes back; Hookplane stored it as a record
and answered 201, so a Slack integration never got past set-up. Interactivity and slash
commands post form bodies, which were refused with 415. The challenge is now echoed — after
the signature (and its timestamp) verified, never for a forged or stale request, so the
endpoint cannot be used to reflect text — and form bodies are accepted for ``slack`` only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
import time
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

SECRET = "slack-signing-secret-for-tests"
YAML = """\
collections:
  events:
    schema: {type: object}
inbound_webhooks:
  slack:
    collection: events
    auth: {type: slack, secret: "${env:SLACK_SIGNING_SECRET}"}
    rate_limit: {requests: 100000, per_seconds: 60}
"""


class Server:
    def __init__(self, root: Path, url: str, app: AppServer) -> None:
        self.root, self.url, self.http = root, url, client(app.url)
        with Store.open(url, root=root) as store:
            self.hook = store.snapshot("preview").resources["inbound_webhooks.slack"].id

    def post(self, body: bytes, *, secret: str = SECRET, age: int = 0,
             content_type: str = "application/json") -> httpx.Response:
        ts = int(time.time()) - age
        mac = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
        return self.http.post(f"/inbound/preview/{self.hook}/ingest", content=body, headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": "v0=" + mac.hexdigest()})

    def stored(self) -> int:
        with Store.open(self.url, root=self.root) as store:
            rows, _ = RuntimeStore(store).list("preview", "events", limit=1000)
        return len(rows)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("slack")
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    url = f"sqlite:///{root / 'state.db'}"
    apply_environment(root, url, "preview", {"SLACK_SIGNING_SECRET": SECRET})
    app = AppServer(create_app(database_url=url, root=root, run_jobs=False)).start()
    subject = Server(root, url, app)
    try:
        yield subject
    finally:
        subject.http.close()
        app.stop()


CHALLENGE = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                    min_size=1, max_size=90).map(lambda text: "chl-" + text)
"""Any text Slack could send, marked so that finding it in an answer means it was echoed
(a bare 'l' is in every error message)."""


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(challenge=CHALLENGE)
def test_a_challenge_is_echoed_only_when_slack_signed_it(server: Server,
                                                         challenge: str) -> None:
    body = json.dumps({"type": "url_verification", "challenge": challenge}).encode()
    before = server.stored()
    signed = server.post(body)
    assert signed.status_code == 200 and signed.json() == {"challenge": challenge}
    for refused in (server.post(body, secret="guess"), server.post(body, age=3600)):
        assert refused.status_code == 401 and challenge not in refused.text
    assert server.stored() == before  # a handshake is never a record


def test_form_bodies_are_slack_only_and_signed(server: Server) -> None:
    form = "application/x-www-form-urlencoded"
    assert server.post(b"command=%2Fdeploy&text=now", content_type=form).status_code == 201
    assert server.post(b"command=%2Fdeploy&text=now", content_type=form,
                       secret="guess").status_code == 401
    assert server.post(b"payload=%5B1%5D", content_type=form).status_code == 400  # not an object
    assert server.post(b"%%%", content_type=form).status_code == 400
