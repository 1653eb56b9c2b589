"""``hookplane inbound-webhooks simulate``: the sample event (or --event), signed the way the
provider signs, with the secret in state, reaches a running server and is stored; --curl
prints a request that curl can send as is. Every preset with a signer is sent once."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hookplane.cli.main import run
from hookplane.presets import PRESETS
from hookplane.runtime.app import create_app
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment

PUBLIC_URL = "https://hooks.example.com"
DISCORD_KEY = Ed25519PrivateKey.generate()
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
ENVIRON = {
    "PROVIDER_SECRET": "provider-issued-secret-0123456789",
    "SVIX_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "META_VERIFY_TOKEN": "meta-verify-token-42",
}
SIGNED = sorted(name for name, preset in PRESETS.items() if preset.sign is not None)


def _auth(name: str) -> str:
    preset = PRESETS[name]
    parts = [f"type: {name}"]
    if name == "svix":
        parts.append('secret: "${env:SVIX_SECRET}"')
    elif preset.secret == "provider":
        parts.append('secret: "${env:PROVIDER_SECRET}"')
    if name == "discord":
        raw = DISCORD_KEY.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
        parts.append(f'public_key: "{raw.hex()}"')
    if name == "sendgrid":
        der = SENDGRID_KEY.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        import base64

        parts.append(f'public_key: "{base64.b64encode(der).decode()}"')
    if name == "meta":
        parts.append('verify_token: "${env:META_VERIFY_TOKEN}"')
    return "{" + ", ".join(parts) + "}"


def _yaml() -> str:
    hooks = "".join(
        f"  {name.replace('_', '-')}-events:\n    collection: events\n"
        f"    rate_limit: {{requests: 10000, per_seconds: 60}}\n    auth: {_auth(name)}\n"
        for name in SIGNED)
    return "collections:\n  events:\n    schema: {type: object}\ninbound_webhooks:\n" + hooks


class Served:
    def __init__(self, root: Path, url: str, server: AppServer) -> None:
        self.root, self.url, self.server = root, url, server

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        status = run(["-C", str(self.root), "--no-color", *args, "--database-url", self.url])
        out = capsys.readouterr()
        return status, out.out, out.err

    def stored(self) -> int:
        with Store.open(self.url, root=self.root) as store:
            page, _ = RuntimeStore(store).list("preview", "events", limit=500)
        return len(page)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("simulate")
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.setenv("HOOKPLANE_PUBLIC_URL", PUBLIC_URL)  # what Twilio & co. are given
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(_yaml())
    (root / "discord.key").write_text(DISCORD_KEY.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption()).hex())
    (root / "sendgrid.pem").write_bytes(SENDGRID_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    url = f"sqlite:///{root / 'state.db'}"
    apply_environment(root, url, "preview", ENVIRON)
    app = AppServer(create_app(database_url=url, root=root, run_jobs=False)).start()
    try:
        yield Served(root, url, app)
    finally:
        app.stop()
        monkeypatch.undo()


def test_at_least_twenty_presets_can_be_simulated() -> None:
    assert len(SIGNED) >= 20, SIGNED


@pytest.mark.parametrize("name", SIGNED)
def test_simulate_sends_the_sample_signed_as_the_provider_does(
        served: Served, capsys: pytest.CaptureFixture[str], name: str) -> None:
    before = served.stored()
    key = {"discord": ["--private-key", str(served.root / "discord.key")],
           "sendgrid": ["--private-key", str(served.root / "sendgrid.pem")]}.get(name, [])
    status, out, err = served.cli(capsys, "inbound-webhooks", "simulate", "preview",
                                  f"{name.replace('_', '-')}-events",
                                  "--server", served.server.url, *key)
    assert status == 0, out + err
    answered = out.splitlines()[0]
    assert answered in ("HTTP 201", "HTTP 200"), out
    assert served.stored() == before + 1, out
    for value in ENVIRON.values():  # the secret is never printed
        assert value not in out + err


def test_simulate_with_an_event_file(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    event = served.root / "push.json"
    event.write_text('{"ref": "refs/heads/feature", "note": "from a file"}')
    status, out, _ = served.cli(capsys, "inbound-webhooks", "simulate", "preview",
                                "github-events", "--server", served.server.url,
                                "--event", str(event))
    assert status == 0 and out.startswith("HTTP 201"), out


def test_a_wrong_secret_is_what_the_server_refuses(
        served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    """simulate signs over HOOKPLANE_PUBLIC_URL like the server rebuilds it: signed over
    another public URL, Twilio's signature does not match and the answer is 401 (exit 1)."""
    import os

    os.environ["HOOKPLANE_PUBLIC_URL"] = "https://elsewhere.example.com"
    try:
        status, out, _ = served.cli(capsys, "inbound-webhooks", "simulate", "preview",
                                    "twilio-events", "--server", served.server.url)
    finally:
        os.environ["HOOKPLANE_PUBLIC_URL"] = PUBLIC_URL
    assert status == 1 and out.startswith("HTTP 401"), out


def test_private_key_presets_need_a_key(served: Served,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = served.cli(capsys, "inbound-webhooks", "simulate", "preview",
                                "discord-events", "--server", served.server.url)
    assert status == 1
    assert "--private-key" in err and "public_key" in err
    status, _, err = served.cli(capsys, "inbound-webhooks", "simulate", "preview",
                                "github-events", "--server", served.server.url,
                                "--private-key", str(served.root / "discord.key"))
    assert status == 1 and "applies to discord and sendgrid" in err


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@pytest.mark.parametrize("name", ["github", "zendesk", "twilio"])
def test_the_curl_command_is_accepted_as_printed(
        served: Served, capsys: pytest.CaptureFixture[str], name: str) -> None:
    before = served.stored()
    status, out, _ = served.cli(capsys, "inbound-webhooks", "simulate", "preview",
                                f"{name}-events", "--server", served.server.url, "--curl")
    assert status == 0 and out.startswith("curl -X POST"), out
    answer = subprocess.run(["bash", "-c", out.replace("curl ", "curl -s -o /dev/null -w "
                                                       "'%{http_code}' ", 1)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert answer.stdout == "201", answer
    assert served.stored() == before + 1
    assert ENVIRON["PROVIDER_SECRET"] not in out


def test_docs_samples_match_the_registry() -> None:
    """docs/reference/samples/*.json (generated) are what simulate sends by default."""
    import json

    from hookplane.cli.provider_docs import samples

    root = Path(__file__).resolve().parents[3]
    for relative, text in samples().items():
        shipped = root / "docs" / "reference" / relative
        assert json.loads(shipped.read_text()) == json.loads(text), relative
