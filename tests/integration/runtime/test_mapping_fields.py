"""Inline mappings and create templates end to end, on a real server on 127.0.0.1.

- The seed's own inline mapping ``{to_external: {status: state}}`` renames ``state`` and keeps
  the payload's other fields (it used to drop them, so the record missed its required
  ``title`` and the delivery was refused with 422); ``unmapped: drop`` keeps only the named.
- An ``action.create`` field that is one placeholder over an absent value is left out (it
  used to be ``""``, and an array field failed with "expected array").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookplane.runtime.app import create_app
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client

PROJECT = """\
collections:
  incidents:
    schema:
      type: object
      required: [title, status]
      properties:
        title: {type: string}
        status: {type: string, enum: [open, resolved]}
        severity: {type: string}
        buyer: {type: object}
        customer: {type: string}
  tasks:
    schema:
      type: object
      required: [title]
      properties:
        title: {type: string}
        assignees: {type: array, items: {type: string}}
        estimate: {type: number}
        labels: {type: array, items: {type: string}}
inbound_webhooks:
  seed-example:
    collection: incidents
    auth: {type: hmac, header: X-Signature}
    rate_limit: {requests: 10000, per_seconds: 60}
    mapping: {to_external: {status: state, customer: buyer.name}}
  named-only:
    collection: incidents
    auth: {type: hmac, header: X-Signature}
    rate_limit: {requests: 10000, per_seconds: 60}
    mapping:
      to_external: {status: state, title: summary}
      unmapped: drop
  create-task:
    auth: {type: hmac, header: X-Signature}
    rate_limit: {requests: 10000, per_seconds: 60}
    action:
      create:
        collection: tasks
        fields:
          title: "{{payload.title}}"
          assignees: "{{payload.assignees}}"
          estimate: "{{payload.estimate}}"
          labels: ["{{payload.team}}", "{{payload.area}}"]
"""


@dataclass
class Served:
    root: Path
    database_url: str
    http: httpx.Client

    def post(self, hook: str, payload: dict[str, Any]) -> httpx.Response:
        with Store.open(self.database_url, root=self.root) as store:
            secret = store.read_secret("preview", "inbound_webhooks", hook, "hmac_secret")
            hook_id = next(r.id for r in store.snapshot("preview").resources.values()
                           if r.kind == "inbound_webhooks" and r.name == hook)
        body = json.dumps(payload).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return self.http.post(f"/inbound/preview/{hook_id}/ingest", content=body,
                              headers={"Content-Type": "application/json",
                                       "X-Signature": signature})

    def record(self, collection: str, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 201, response.text
        with Store.open(self.database_url, root=self.root) as store:
            found = RuntimeStore(store).get("preview", collection, response.json()["record_id"])
        assert found is not None
        return found.data


@contextmanager
def serve(root: Path, project: str = PROJECT) -> Iterator[Served]:
    """``project`` applied to environment ``preview`` and served on 127.0.0.1."""
    env = root / "environments" / "preview"
    env.mkdir(parents=True, exist_ok=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(project))
    url = f"sqlite:///{root / 'state.db'}"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
        apply_environment(root, url, "preview", {})
        app = create_app(database_url=url, root=root,
                         admin_token="admin-token-for-tests-0123456789", run_jobs=False)
        server = AppServer(app).start()
        try:
            with client(server.url) as http:
                yield Served(root, url, http)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("mapping-fields")) as running:
        yield running


def test_the_seed_inline_mapping_renames_and_keeps_the_rest(served: Served) -> None:
    response = served.post("seed-example", {"state": "open", "title": "API down",
                                            "severity": "p1",
                                            "buyer": {"name": "Ada", "tier": "gold"}})
    assert served.record("incidents", response) == {
        "status": "open", "title": "API down", "severity": "p1",
        "customer": "Ada", "buyer": {"tier": "gold"},  # buyer.name moved, not copied
    }


def test_unmapped_drop_stores_only_the_named_fields(served: Served) -> None:
    response = served.post("named-only", {"state": "open", "summary": "API down",
                                          "severity": "p1", "html_url": "https://x.invalid"})
    assert served.record("incidents", response) == {"status": "open", "title": "API down"}


def test_create_leaves_an_absent_typed_field_out(served: Served) -> None:
    response = served.post("create-task", {"title": "Deploy failed", "team": "core"})
    assert served.record("tasks", response) == {"title": "Deploy failed", "labels": ["core"]}


def test_create_keeps_the_json_type_of_present_values(served: Served) -> None:
    response = served.post("create-task", {"title": "Deploy failed", "assignees": ["ada"],
                                           "estimate": 2.5, "team": "core", "area": "ci"})
    assert served.record("tasks", response) == {
        "title": "Deploy failed", "assignees": ["ada"], "estimate": 2.5,
        "labels": ["core", "ci"]}


def test_a_wrong_type_is_still_refused_with_the_field(served: Served) -> None:
    response = served.post("create-task", {"title": "x", "assignees": "ada"})
    assert response.status_code == 422
    assert {f["path"] for f in response.json()["fields"]} == {"assignees"}
