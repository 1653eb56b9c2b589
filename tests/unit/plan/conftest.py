from __future__ import annotations

import hashlib
import hmac
import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from hookplane.config import Config, load_environment
from hookplane.config.applied import AppliedResource, Snapshot, canonical_hash
from hookplane.plan import Plan, diff

GOLDEN = Path(__file__).parent / "golden"
ENV = {"SLACK_URL": "https://hooks.slack.example/T1/B1/abc", "API_TOKEN": "tok-123"}


def fingerprint(value: str) -> str:
    return "fp:" + hmac.new(b"test-key", value.encode(), hashlib.sha256).hexdigest()[:16]


BASE = """\
collections:
  incidents:
    schema:
      type: object
      required: [title]
      properties:
        title: {type: string}
        severity: {type: string}
triggers:
  notify:
    collection: incidents
    events: [create, update]
    url: "${env:SLACK_URL}"
    filter: {severity: p1}
    body: {text: "P1 {{record.title}}"}
inbound_webhooks:
  alerts:
    collection: incidents
    auth: {type: hmac, header: X-Signature}
api_keys:
  ci: {scopes: [write]}
"""


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, env: str, text: str, *, kind: str = "preview",
              promotes_to: str | None = None, name: str = "main.yaml") -> None:
        directory = self.root / "environments" / env
        directory.mkdir(parents=True, exist_ok=True)
        header = f"name: {env}\nkind: {kind}\n"
        if promotes_to:
            header += f"promotes_to: {promotes_to}\n"
        (directory / "environment.yaml").write_text(header)
        (directory / name).write_text(textwrap.dedent(text))

    def load(self, env: str = "preview") -> Config:
        return load_environment(self.root, env)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def applied(plan: Plan, *, lineage: str = "lineage-1", serial: int = 1) -> Snapshot:
    """The snapshot a store would hold after applying ``plan`` to an empty environment."""
    resources = {}
    for change in plan.changes:
        assert change.after is not None
        resources[change.address] = AppliedResource(
            id=f"id_{change.name}", kind=change.kind, name=change.name, spec=change.after,
            fingerprints=change.fingerprints, generated=change.generate,
            applied_hash=canonical_hash(change.after),
        )
    return Snapshot(plan.environment, lineage, serial, resources)


def make_plan(config: Config, snapshot: Snapshot | None = None, *,
              environ: dict[str, str] | None = None, source: Config | None = None) -> Plan:
    snapshot = snapshot or Snapshot(config.name, "", 0)
    return diff(config, snapshot, environ=ENV if environ is None else environ,
                fingerprint=fingerprint, promotion_source=source)


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("HOOKPLANE_UPDATE_GOLDEN"):
            path.write_text(text)
        if not path.exists():
            pytest.fail(f"golden file {path} is missing (HOOKPLANE_UPDATE_GOLDEN=1 writes it)")
        assert text == path.read_text(), f"output differs from {path}"
    return check
