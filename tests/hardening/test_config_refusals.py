"""What configuration may not do, refused at validate with a position and without echoing
a secret: reference Hookplane's own variables (they would be sent out with the next
delivery), or carry a credential in a literal URL (user info, a token in the query, a Slack,
Discord or Teams webhook path) although literal secrets are a validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookplane.config import load_all
from tests.unit.config.test_invalid_configs import Case, _assert_reported, _problems, _project

TRIGGER = """\
triggers:
  t:
    collection: incidents
    events: [create]
    url: "{url}"
"""
OWN = ("is one of Hookplane's own variables (HOOKPLANE_*: the secret key, the database URL, "
       "the admin token …), which configuration may not send anywhere")
LITERAL = "a literal URL with a credential in it"


@pytest.mark.parametrize(("url", "fragment"), [
    ("${env:HOOKPLANE_SECRET_KEY}", "${env:HOOKPLANE_SECRET_KEY} " + OWN),
    ("https://x.example/?k=${env:HOOKPLANE_DATABASE_URL}",
     "${env:HOOKPLANE_DATABASE_URL} " + OWN),
    ("https://${env:HOOKPLANE_ADMIN_TOKEN}@x.example/", "${env:HOOKPLANE_ADMIN_TOKEN} " + OWN),
    ("https://hooks.slack.com/services/T000/B000/S3CRETx", LITERAL + " (a hooks.slack.com "
     "webhook path)"),
    ("https://discord.com/api/webhooks/123/S3CRETx", LITERAL + " (a discord.com webhook path)"),
    ("https://acme.webhook.office.com/webhookb2/S3CRETx", LITERAL),
    ("https://user:S3CRETx@hooks.example.com/h", LITERAL + " (user info before the host)"),
    ("https://hooks.example.com/h?token=S3CRETx", LITERAL + " (the query parameter 'token')"),
    ("https://hooks.example.com/h?a=1&api_key=S3CRETx", LITERAL + " (the query parameter "
     "'api_key')"),
    ("https://hooks.example.com/h?X-Amz-Signature=S3CRETx", LITERAL),
])
def test_refused_urls(tmp_path: Path, url: str, fragment: str) -> None:
    text = TRIGGER.format(url=url)
    problems = _problems(_project(tmp_path, Case(text, "main.yaml:5:10", fragment)))
    _assert_reported(problems, Case(text, "main.yaml:5:10", fragment))
    assert not any("S3CRETx" in d.format() for d in problems)  # the secret is not echoed


@pytest.mark.parametrize("url", [
    "${env:SLACK_WEBHOOK_URL}",
    "https://hooks.slack.com/services/${env:SLACK_PATH}",
    "https://${env:USER}:${env:PASS}@hooks.example.com/h",
    "https://hooks.example.com/h?token=${env:TOKEN}",
    "https://hooks.example.com/h?page=2&sort=asc",
    "https://hooks.slack.com/",
])
def test_accepted_urls(tmp_path: Path, url: str) -> None:
    config = load_all(_project(tmp_path, Case(TRIGGER.format(url=url), "", "")))["preview"]
    assert config.get("triggers", "t") is not None
