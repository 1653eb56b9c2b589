"""The preset registry is the one place a provider lives: every module of hookplane/presets
is registered, carries what config, runtime and docs read from it, and its signer (what
``simulate`` and the docs use) produces requests its own verifier accepts — and no other."""

from __future__ import annotations

import base64
import importlib
import pkgutil
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import hookplane.presets
from hookplane.cli.provider_docs import sample_body
from hookplane.config.models import AUTH_TYPES, Auth
from hookplane.presets import GENERIC, OPTIONS, PRESETS, PROVIDERS
from hookplane.runtime.verify import verify

URL = "https://hooks.example.com/inbound/preview/iw_1/ingest"


def test_every_module_is_registered_under_its_own_name() -> None:
    modules = [info.name for info in pkgutil.iter_modules(hookplane.presets.__path__)
               if not info.name.startswith("_") and info.name != "generic"]
    for name in modules:
        module = importlib.import_module(f"hookplane.presets.{name}")
        assert module.PRESET.name == name, name
        assert PRESETS[name] is module.PRESET, f"{name} is not in presets._PROVIDERS"
    assert sorted(modules) == sorted(PROVIDERS)
    assert tuple(PRESETS) == AUTH_TYPES == (*GENERIC, *PROVIDERS)


def test_at_least_twenty_provider_presets() -> None:
    assert len(PROVIDERS) >= 20, PROVIDERS


@pytest.mark.parametrize("name", PROVIDERS)
def test_each_provider_says_what_the_docs_and_config_need(name: str) -> None:
    preset = PRESETS[name]
    assert preset.title and preset.scheme and preset.replay
    assert preset.docs is not None and preset.docs.dashboard and preset.docs.sample
    assert preset.options <= set(OPTIONS) and preset.required <= preset.options
    if preset.secret == "provider":
        assert preset.secret_env.isupper(), "the docs suggest an environment variable"
    if preset.secret == "none":
        assert "public_key" in preset.required and preset.check_public_key is not None
    assert all(h == h.lower() for h in (*preset.credential_headers,
                                       *preset.delivery_id_headers))
    assert preset.tolerance > 0


def _secret_and_auth(name: str) -> tuple[str, Auth, str, Auth]:
    """(signing secret, auth that verifies it, another secret, auth for the other)."""
    if name == "discord":
        keys = [Ed25519PrivateKey.generate() for _ in range(2)]
        raw = [k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                               serialization.NoEncryption()).hex() for k in keys]
        pubs = [k.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw).hex() for k in keys]
        return (raw[0], Auth(type="discord", public_key=pubs[0]),
                raw[1], Auth(type="discord", public_key=pubs[1]))
    if name == "sendgrid":
        keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(2)]
        pems = [k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode() for k in keys]
        pubs = [base64.b64encode(k.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
            for k in keys]
        return (pems[0], Auth(type="sendgrid", public_key=pubs[0]),
                pems[1], Auth(type="sendgrid", public_key=pubs[1]))
    extra = {"verify_token": "${env:T}"} if name == "meta" else {}
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" if name in (
        "svix", "standard_webhooks") else "a-secret-of-some-length-42"
    other = "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldA==" if name in (
        "svix", "standard_webhooks") else "another-secret-of-length-42"
    auth = Auth(type=name, **extra)  # type: ignore[arg-type]
    return secret, auth, other, auth


SIGNED = [name for name, preset in PRESETS.items() if preset.sign is not None]


@pytest.mark.parametrize("name", SIGNED)
def test_the_signer_and_the_verifier_agree(name: str) -> None:
    preset = PRESETS[name]
    assert preset.sign is not None
    secret, auth, other, other_auth = _secret_and_auth(name)
    now = time.time()
    headers, body = preset.sign(sample_body(preset), secret, now, URL)
    if name == "twilio":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    secrets = [] if preset.signs_with_private_key else [secret]
    good = verify(auth, headers=headers, body=body, secrets=secrets, now=now, url=URL)
    assert good.ok, good
    # signed with another secret (or key): refused
    headers2, body2 = preset.sign(sample_body(preset), other, now, URL)
    if name == "twilio":
        headers2["Content-Type"] = "application/x-www-form-urlencoded"
    wrong = verify(auth, headers=headers2, body=body2, secrets=secrets, now=now, url=URL)
    assert not wrong.ok and wrong.reason in ("bad_signature", "bad_token"), wrong
    # the body changed after signing: refused (Mailgun signs only its token: a changed token)
    tampered = {"mailgun": body.replace(b'"token": "', b'"token": "x', 1),
                "msgraph": body.replace(b'"created"', b'"deleted"', 1)}.get(
        name, body.replace(b"a", b"b", 1))
    changed = verify(auth, headers=headers, body=tampered, secrets=secrets, now=now, url=URL)
    assert changed.ok is not (preset.signs_body or name == "mailgun"), changed
    if preset.timestamped and name != "linear":  # Linear's time is in the (signed) body
        late = now + preset.tolerance + 60
        stale = verify(auth, headers=headers, body=body, secrets=secrets, now=late, url=URL)
        assert not stale.ok and stale.reason == "stale_timestamp", stale
    del other_auth
