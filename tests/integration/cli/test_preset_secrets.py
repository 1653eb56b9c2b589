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


def test_an_empty_or_blank_secret_or_verify_token_is_an_apply_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A variable that is set but empty (or only whitespace) applied: an HMAC keyed with " "
    is a key anyone can guess, and an empty one left the webhook refusing everything without
    a word. Refused at apply like an unset variable, naming the reference."""
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent("""\
        collections:
          notes: {schema: {type: object}}
        inbound_webhooks:
          gl: {collection: notes, auth: {type: gitlab, secret: "${env:GL_TOKEN}"}}
          meta:
            collection: notes
            auth: {type: meta, secret: "${env:META_SECRET}", verify_token: "${env:META_VERIFY}"}
        """))
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.setenv("GL_TOKEN", "")
    monkeypatch.setenv("META_SECRET", " \t")
    monkeypatch.setenv("META_VERIFY", "")
    status = run(["-C", str(tmp_path), "apply", "preview", "--auto-approve"])
    err = capsys.readouterr().err
    assert status == 1, err
    for address, path, variable in (("gl", "auth.secret", "GL_TOKEN"),
                                    ("meta", "auth.secret", "META_SECRET"),
                                    ("meta", "auth.verify_token", "META_VERIFY")):
        assert (f"inbound_webhooks.{address}: the value behind {path} is empty or only "
                f"whitespace") in err, err
        assert f"${{env:{variable}}}" in err
    monkeypatch.setenv("GL_TOKEN", "a-gitlab-token-of-some-length")
    monkeypatch.setenv("META_SECRET", "meta-app-secret")
    monkeypatch.setenv("META_VERIFY", "meta-verify-token")
    assert run(["-C", str(tmp_path), "apply", "preview", "--auto-approve"]) == 0, \
        capsys.readouterr().err


def test_an_empty_whsec_secret_is_an_apply_error(
        project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``whsec_`` alone decodes to an empty key: the libraries refuse it, and so does a
    trigger's signing secret here; an inbound one applied and then refused every delivery."""
    monkeypatch.setenv("SVIX_SECRET", "whsec_")
    monkeypatch.setenv("TWITCH_SECRET", "a-twitch-secret-of-enough-length")
    monkeypatch.setenv("GRAPH_STATE", "g" * 128)
    status = run(["-C", str(project), "apply", "preview", "--auto-approve"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert ("inbound_webhooks.svix: the value behind auth.secret starts with 'whsec_' but is "
            "not valid base64 after it") in err
