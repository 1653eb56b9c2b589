"""Each preset's rule for its secret's value is checked at apply, without showing the value:
a Svix ``whsec_`` secret that is not base64, a Twitch secret outside 10–100 ASCII characters,
a Microsoft Graph clientState over 128 characters. Nothing is applied when one fails."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hookplane.cli.main import run

YAML = """\
collections:
  notes: {schema: {type: object}}
inbound_webhooks:
  svix: {collection: notes, auth: {type: svix, secret: "${env:SVIX_SECRET}"}}
  twitch: {collection: notes, auth: {type: twitch, secret: "${env:TWITCH_SECRET}"}}
  graph: {collection: notes, auth: {type: msgraph, secret: "${env:GRAPH_STATE}"}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    return tmp_path


def test_each_preset_checks_its_secret_at_apply(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SVIX_SECRET", "whsec_%%not-base64%%")
    monkeypatch.setenv("TWITCH_SECRET", "short")
    monkeypatch.setenv("GRAPH_STATE", "g" * 129)
    status = run(["-C", str(project), "apply", "preview", "--auto-approve"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert ("inbound_webhooks.svix: the value behind auth.secret starts with 'whsec_' but is "
            "not valid base64 after it") in err
    assert ("inbound_webhooks.twitch: the value behind auth.secret is not 10 to 100 ASCII "
            "characters") in err
    assert ("inbound_webhooks.graph: the value behind auth.secret is longer than 128 "
            "characters") in err
    for value in ("%%not-base64%%", "short", "g" * 129):
        assert value not in err  # never shown
    assert "${env:TWITCH_SECRET}" in err  # where to look instead


def test_good_secrets_apply(project: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SVIX_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    monkeypatch.setenv("TWITCH_SECRET", "a-twitch-secret-of-enough-length")
    monkeypatch.setenv("GRAPH_STATE", "g" * 128)
    status = run(["-C", str(project), "apply", "preview", "--auto-approve"])
    assert status == 0, capsys.readouterr().err
