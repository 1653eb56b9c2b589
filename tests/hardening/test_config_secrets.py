"""What configuration may carry (#15, round 3):

- a literal URL carrying a credential is refused at validate, positioned, with the kind of
  credential named and never its value — camelCase and run-together query names
  (``accessToken``, ``authtoken``), percent-encoded names, fragments, the query of a source
  endpoint's ``path``, Slack workflow and Discord versioned webhook paths included; a query
  parameter that merely ends in ``code`` (``country_code``) is not a credential;
- ``${env:HOOKPLANE_…}`` (Hookplane's own variables) is refused wherever a reference is
  allowed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hookplane.config import load_all
from tests.unit.config.test_invalid_configs import Case, _assert_reported, _problems, _project

# --------------------------------------------------------------------------- literal URLs

TRIGGER = """\
triggers:
  t:
    collection: incidents
    events: [create]
    url: "{url}"
"""
LITERAL = "a literal URL with a credential in it"


@pytest.mark.parametrize(("url", "kind"), [
    ("https://x.example/h?accessToken=S3CRETx", "the query parameter 'accessToken'"),
    ("https://x.example/h?apiToken=S3CRETx", "the query parameter 'apiToken'"),
    ("https://x.example/h?authtoken=S3CRETx", "the query parameter 'authtoken'"),
    ("https://x.example/h?clientSecret=S3CRETx", "the query parameter 'clientSecret'"),
    ("https://x.example/h?privateKey=S3CRETx", "the query parameter 'privateKey'"),
    ("https://x.example/h?%74oken=S3CRETx", "the query parameter 'token'"),
    ("https://x.example/h#access_token=S3CRETx", "the fragment parameter 'access_token'"),
    ("https://x.example/h?code=S3CRETx", "the query parameter 'code'"),
    ("https://hooks.slack.com/workflows/T0/A0/1/S3CRETx", "a hooks.slack.com webhook path"),
    ("https://hooks.slack.com/triggers/T0/1/S3CRETx", "a hooks.slack.com webhook path"),
    ("https://hooks.slack.com./services/T0/B0/S3CRETx", "a hooks.slack.com webhook path"),
    ("https://discord.com/api/v10/webhooks/1/S3CRETx", "a discord.com webhook path"),
    ("https://maker.ifttt.com/trigger/ev/with/key/S3CRETx", "a maker.ifttt.com webhook path"),
])
def test_a_literal_url_with_a_credential_is_refused(tmp_path: Path, url: str, kind: str) -> None:
    case = Case(TRIGGER.format(url=url), "main.yaml:5:10", f"{LITERAL} ({kind})")
    problems = _problems(_project(tmp_path, case))
    _assert_reported(problems, case)
    assert not any("S3CRETx" in d.format() for d in problems)  # the secret is not echoed


@pytest.mark.parametrize("url", [
    "https://x.example/h?country_code=US&zip_code=75001&status_code=200",
    "https://x.example/h?keyword=monkey&hotkey=1",
    "https://x.example/h?accessToken=${env:ACCESS_TOKEN}",
    "https://discord.com/api/v10/webhooks/${env:DISCORD_WEBHOOK}",
    "https://x.example/h#section",
])
def test_urls_without_a_literal_credential_are_accepted(tmp_path: Path, url: str) -> None:
    config = load_all(_project(tmp_path, Case(TRIGGER.format(url=url), "", "")))["preview"]
    assert config.get("triggers", "t") is not None


def test_a_credential_in_a_source_endpoint_path_is_refused(tmp_path: Path) -> None:
    text = """\
sources:
  api:
    collection: incidents
    base_url: https://api.example.com
    read: {path: "/items/{id}?api_key=S3CRETx"}
"""
    case = Case(text, "main.yaml:5:18", f"{LITERAL} (the query parameter 'api_key')")
    problems = _problems(_project(tmp_path, case))
    _assert_reported(problems, case)
    assert not any("S3CRETx" in d.format() for d in problems)


# --------------------------------------------------------------------------- own variables

OWN = "is one of Hookplane's own variables"


@pytest.mark.parametrize(("text", "where", "name"), [
    ("triggers:\n  t:\n    collection: incidents\n    events: [create]\n"
     "    url: https://x.example/h\n    headers: {X-Leak: \"${env:HOOKPLANE_ADMIN_TOKEN}\"}\n",
     "main.yaml:6:23", "HOOKPLANE_ADMIN_TOKEN"),
    ("sources:\n  s:\n    collection: incidents\n"
     "    base_url: \"https://x.example/${env:HOOKPLANE_DATABASE_URL}\"\n"
     "    read: {path: \"/r/{id}\"}\n", "main.yaml:4:15", "HOOKPLANE_DATABASE_URL"),
    ("inbound_webhooks:\n  w:\n    collection: incidents\n    action:\n      invoke:\n"
     "        url: https://agents.example.com/run\n"
     "        headers: {Authorization: \"Bearer ${env:hookplane_secret_key}\"}\n",
     "main.yaml:7:34", "hookplane_secret_key"),
])
def test_hookplane_own_variables_are_refused_wherever_references_are_allowed(
        tmp_path: Path, text: str, where: str, name: str) -> None:
    case = Case(text, where, f"${{env:{name}}} {OWN}")
    _assert_reported(_problems(_project(tmp_path, case)), case)
