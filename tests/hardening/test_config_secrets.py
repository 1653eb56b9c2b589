"""What configuration may carry, and what Hookplane reads, around secrets (#15, round 3):

- a literal URL carrying a credential is refused at validate, positioned, with the kind of
  credential named and never its value — camelCase and run-together query names
  (``accessToken``, ``authtoken``), percent-encoded names, fragments, the query of a source
  endpoint's ``path``, Slack workflow and Discord versioned webhook paths included; a query
  parameter that merely ends in ``code`` (``country_code``) is not a credential;
- ``${env:HOOKPLANE_…}`` (Hookplane's own variables) is refused wherever a reference is
  allowed;
- a symbolic link out of the project is never opened: not by ``plan`` (which hashed every
  file, the one behind the link included, before loading and refusing them), not by
  ``promote`` (which read the target environment's files and echoed their keys), not by the
  console's declaration index;
- Standard Webhooks secrets behave exactly as the specification's libraries decode them,
  checked with the vectors their own test suites publish; a bad ``whsec_`` value from the
  environment is an apply error naming the variable, never its value.
"""

from __future__ import annotations

import ctypes
import os
import struct
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from hookplane.apply import config_file_digests
from hookplane.cli.main import run
from hookplane.config import load_all
from hookplane.config.models import Auth
from hookplane.errors import ConfigError
from hookplane.runtime.console.declared import Declarations
from hookplane.runtime.signing import sign
from hookplane.runtime.verify import verify
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


# --------------------------------------------------------------------------- symbolic links

SECRET_LINE = "host_secret_key: s3cr3t-on-the-ci-host\n"


def _linked_project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "repo"
    for name, text in (("preview", "name: preview\nkind: preview\npromotes_to: production\n"),
                       ("production", "name: production\nkind: production\n")):
        (root / "environments" / name).mkdir(parents=True)
        (root / "environments" / name / "environment.yaml").write_text(text)
    (root / "environments" / "preview" / "notes.yaml").write_text(
        "collections:\n  notes: {schema: {type: object}}\n")
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "credentials.yaml").write_text(SECRET_LINE)
    return root, outside


@contextmanager
def _opened(directory: Path) -> Iterator[Callable[[], set[str]]]:
    """Names of the files in ``directory`` that anything opens meanwhile (Linux inotify)."""
    libc = ctypes.CDLL(None, use_errno=True)
    descriptor = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert descriptor >= 0, os.strerror(ctypes.get_errno())
    assert libc.inotify_add_watch(descriptor, os.fsencode(directory), _IN_OPEN) >= 0

    def names() -> set[str]:
        found: set[str] = set()
        while True:
            try:
                data = os.read(descriptor, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                _, _, _, size = struct.unpack_from("iIII", data, offset)
                raw = data[offset + 16:offset + 16 + size]
                found.add(raw.rstrip(b"\0").decode())
                offset += 16 + size

    try:
        yield names
    finally:
        os.close(descriptor)


_IN_OPEN = 0x20


def test_plan_never_opens_a_file_behind_a_link_out_of_the_project(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """plan hashed every YAML file before loading (and refusing) them, so the file behind a
    link out of the project was opened and read in full (a large file, or one under
    ``/proc``, on the CI host) although the docs say nothing behind the link is read."""
    root, outside = _linked_project(tmp_path)
    (root / "environments" / "preview" / "leak.yaml").symlink_to(outside / "credentials.yaml")
    with _opened(outside) as opened:
        status = run(["-C", str(root), "plan", "preview"])
        assert opened() == set()
    assert status == 1
    err = capsys.readouterr().err
    assert ("environments/preview/leak.yaml: is a symbolic link (or inside one) that leads "
            "outside the project") in err
    assert "host_secret_key" not in err


@pytest.mark.parametrize("linked", ["environments/production", "environments"])
def test_an_environment_directory_linked_out_of_the_project_is_refused_unread(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], linked: str) -> None:
    root, outside = _linked_project(tmp_path)
    target = outside / "tree"
    (root / linked).rename(target)  # the real directory now lives outside the project
    (root / linked).symlink_to(target, target_is_directory=True)
    with _opened(target / "production") if linked == "environments" else _opened(target) \
            as opened:
        assert run(["-C", str(root), "plan", "production"]) == 1
        assert opened() == set()
    err = capsys.readouterr().err
    assert "environments/production: is a symbolic link (or inside one) that leads outside " \
           "the project" in err


def test_the_file_digests_refuse_a_link_out_of_the_project(tmp_path: Path) -> None:
    root, outside = _linked_project(tmp_path)
    (root / "environments" / "preview" / "leak.yaml").symlink_to(outside / "credentials.yaml")
    with pytest.raises(ConfigError) as refused:
        config_file_digests(root, "preview")
    assert [d.file for d in refused.value.diagnostics] == ["environments/preview/leak.yaml"]


def test_promote_never_reads_a_link_out_of_the_project_in_the_target(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """promote read the target environment's files without the loader's check and echoed
    their keys (``unknown section 'host_secret_key'``)."""
    root, outside = _linked_project(tmp_path)
    (root / "environments" / "production" / "leak.yaml").symlink_to(
        outside / "credentials.yaml")
    assert run(["-C", str(root), "promote", "preview", "production", "--dry-run"]) == 1
    out = capsys.readouterr()
    assert ("environments/production/leak.yaml: is a symbolic link (or inside one) that "
            "leads outside the project") in out.err
    assert "host_secret_key" not in out.out + out.err


def test_the_console_declaration_index_skips_a_link_out_of_the_project(tmp_path: Path) -> None:
    root, outside = _linked_project(tmp_path)
    (outside / "more.yaml").write_text("collections:\n  leaked-from-host: {}\n")
    (root / "environments" / "preview" / "more.yaml").symlink_to(outside / "more.yaml")
    declared = Declarations(root).of("preview")
    assert declared == {"collections.notes": "environments/preview/notes.yaml:2"}


# --------------------------------------------------------------------------- Standard Webhooks
#
# Vectors copied (values only) from the test suites of the official libraries,
# github.com/standard-webhooks/standard-webhooks at commit b2fa7b8:
# - libraries/{python/tests/test_webhooks.py, go/webhook_test.go, ruby/spec/webhook_spec.rb,
#   php/tests/WebhookTest.php, csharp/StandardWebhooks.Tests/WebhookTest.cs}: "sign function"
#   (the same vector in each), the invalid signature, the multi-signature header, the
#   unpadded secrets and the empty "whsec_" secret;
# - libraries/rust/src/lib.rs: test_sign and test_no_verify.

SIGNED = [  # (secret, msg_id, timestamp, payload, expected webhook-signature)
    ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
     b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    ("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553,
     b'{"email":"test@example.com","username":"test_user"}',
     "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="),
]
WRONG = [  # (secret, msg_id, payload, a signature that must not verify)
    ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
     b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="),
    ("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
     b'{"email":"test@example.com","username":"test_user"}',
     "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU="),
]
DECOY = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
UNPADDED = ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr"]


def _headers(msg_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature}


def _verify(secret: str, headers: dict[str, str], body: bytes, now: int) -> bool:
    return verify(Auth(type="standard_webhooks"), headers=headers, body=body,
                  secrets=(secret,), token_hashes=(), now=now).ok


@pytest.mark.parametrize(("secret", "msg_id", "timestamp", "payload", "expected"), SIGNED)
@pytest.mark.parametrize("prefixed", [True, False])
def test_the_libraries_sign_vectors(secret: str, msg_id: str, timestamp: int, payload: bytes,
                                    expected: str, prefixed: bool) -> None:
    secret = secret if prefixed else secret.removeprefix("whsec_")
    headers = sign(secrets=[secret], body=payload, message_id=msg_id, timestamp=timestamp,
                   event="create")
    assert headers["webhook-signature"] == expected
    assert _verify(secret, _headers(msg_id, timestamp, expected), payload, timestamp)
    # several signatures, other versions among them: the valid one is found
    several = " ".join([DECOY, "v2," + DECOY[3:], expected, DECOY])
    assert _verify(secret, _headers(msg_id, timestamp, several), payload, timestamp)
    # a timestamp just outside the libraries' five minutes, either way, is refused
    assert not _verify(secret, _headers(msg_id, timestamp, expected), payload, timestamp + 301)
    assert not _verify(secret, _headers(msg_id, timestamp, expected), payload, timestamp - 301)


@pytest.mark.parametrize(("secret", "msg_id", "payload", "signature"), WRONG)
def test_the_libraries_wrong_signatures_are_refused(secret: str, msg_id: str, payload: bytes,
                                                    signature: str) -> None:
    now = int(time.time())
    for given in (signature, "v1,", signature[:8]):
        assert not _verify(secret, _headers(msg_id, now, given), payload, now)


@pytest.mark.parametrize("secret", UNPADDED)
@pytest.mark.parametrize("prefix", ["", "whsec_"])
def test_unpadded_secrets_agree_with_the_official_library(secret: str, prefix: str) -> None:
    now = datetime.now(UTC)
    stamp = int(now.timestamp())
    payload = b'{"test": 2432232314}'
    library = Webhook(prefix + secret)
    theirs = library.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", now, payload.decode())
    assert _verify(prefix + secret, _headers("msg_p5jXN8AQM9LWM0D4loKWxJek", stamp, theirs),
                   payload, stamp)
    ours = sign(secrets=[prefix + secret], body=payload,
                message_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=stamp, event="create")
    library.verify(payload, {k: v for k, v in ours.items() if k.startswith("webhook-")})


def _apply_project(root: Path) -> None:
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent("""\
        collections:
          notes: {schema: {type: object}}
        triggers:
          t:
            collection: notes
            events: [create]
            url: https://hooks.example.com/t
            signing: {secret: "${env:T_SECRET}"}
        inbound_webhooks:
          sw: {collection: notes, auth: {type: standard_webhooks, secret: "${env:SW_SECRET}"}}
        """))


@pytest.mark.parametrize(("value", "extra"), [
    ("whsec_", ""),  # the libraries refuse an empty secret
    ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "; it has leading or trailing whitespace"),
    ("whsec_MfKQ9r8G-KYqrTwjUPD8ILPZIo2LaLa_", ""),  # URL-safe alphabet: not what they decode
])
def test_a_bad_whsec_value_is_an_apply_error_naming_the_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        value: str, extra: str) -> None:
    _apply_project(tmp_path)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.setenv("T_SECRET", value)
    monkeypatch.setenv("SW_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    status = run(["-C", str(tmp_path), "apply", "preview", "--auto-approve"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert ("triggers.t: the value behind signing.secret starts with 'whsec_' but is not "
            "valid base64 after it") in err
    assert f"(check ${{env:T_SECRET}}{extra}; its value is not shown)" in err
    assert "inbound_webhooks.sw" not in err
    if len(value) > len("whsec_"):
        assert value.strip()[6:] not in err
