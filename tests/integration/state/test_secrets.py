"""Secrets at rest: tokens only as hashes, one-time reveal, encryption, fingerprints, rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hookplane.errors import SecretError
from hookplane.state import Create, SecretBox, Store, Update

from .conftest import ENV, apply_ops, dump, execute, row_counts, table_rows, trigger


def _bearer(name: str = "pagerduty") -> Create:
    return Create(kind="inbound_webhooks", name=name, spec={"auth": {"type": "bearer"}},
                  values={}, generate=("token",))


def test_tokens_are_stored_only_as_a_hash_and_revealed_once(store: Store,
                                                            database_url: str) -> None:
    apply_ops(store, _bearer(), Create(kind="api_keys", name="ci", spec={}, values={},
                                       generate=("token",)))
    (info,) = store.secret_info(ENV, "inbound_webhooks", "pagerduty")
    assert (info.kind, info.status, info.revealable) == ("token", "current", True)

    token = store.reveal_token(ENV, "inbound_webhooks", "pagerduty")

    assert re.fullmatch(r"hpt_[A-Za-z0-9_-]{40}", token)
    assert info.display_prefix == token[:12]
    everything = dump(database_url)
    assert token not in everything
    assert token[len("hpt_"):] not in everything
    (row,) = [r for r in table_rows(database_url)["secrets"]
              if r["token_hash"] == hashlib.sha256(token.encode()).hexdigest()]
    assert row["ciphertext"] is None
    assert row["display_prefix"] == token[:12]
    assert store.verify_token(ENV, "inbound_webhooks", "pagerduty", token)
    assert not store.verify_token(ENV, "inbound_webhooks", "pagerduty", token + "x")
    assert not store.verify_token(ENV, "inbound_webhooks", "other", token)


def test_a_token_cannot_be_revealed_twice(store: Store) -> None:
    apply_ops(store, _bearer())
    token = store.reveal_token(ENV, "inbound_webhooks", "pagerduty")

    with pytest.raises(SecretError) as caught:
        store.reveal_token(ENV, "inbound_webhooks", "pagerduty")

    message = str(caught.value)
    assert "already revealed" in message
    assert f"only its prefix {token[:12]}… remains" in message
    assert "hookplane inbound-webhooks rotate-secret preview pagerduty" in message
    assert token not in message
    (info,) = store.secret_info(ENV, "inbound_webhooks", "pagerduty")
    assert not info.revealable
    entries = [e for e in store.history(ENV) if e.action == "reveal-token"]
    assert len(entries) == 1 and entries[0].details["prefix"] == token[:12]


def test_a_token_cannot_be_read_as_a_signing_secret(store: Store) -> None:
    apply_ops(store, _bearer())

    with pytest.raises(SecretError, match="stored only as a hash"):
        store.read_secret(ENV, "inbound_webhooks", "pagerduty", "token")
    with pytest.raises(SecretError, match="has no HMAC secret"):
        store.read_secret(ENV, "inbound_webhooks", "pagerduty", "hmac_secret")


def test_signing_secrets_and_resolved_values_are_encrypted_at_rest(store: Store,
                                                                   database_url: str) -> None:
    apply_ops(store, Create(kind="triggers", name="notify",
                            spec={"url": "https://x.test", "headers": {"X-Key": "${env:KEY}"}},
                            values={"headers.X-Key": "plain-value-7f3a9c"},
                            generate=("signing_secret",)),
              Create(kind="inbound_webhooks", name="github", spec={"auth": {"type": "github"}},
                     values={}, generate=("hmac_secret",)))

    signing = store.read_secret(ENV, "triggers", "notify", "signing_secret")
    hmac_secret = store.read_secret(ENV, "inbound_webhooks", "github", "hmac_secret")

    for secret in (signing, hmac_secret):
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", secret)
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing != hmac_secret
    everything = dump(database_url)
    for plain in (signing, signing.removeprefix("whsec_"), hmac_secret.removeprefix("whsec_"),
                  "plain-value-7f3a9c"):
        assert plain not in everything
    rows = table_rows(database_url)
    assert all(row["ciphertext"] for row in rows["secrets"])
    assert store.resolved_values(ENV, "triggers", "notify") == {
        "headers.X-Key": "plain-value-7f3a9c"}
    assert store.resolved_values(ENV, "inbound_webhooks", "github") == {}
    (info,) = store.secret_info(ENV, "triggers", "notify")
    # a signing secret has no display prefix: its first characters are part of the secret
    assert (info.kind, info.revealable, info.display_prefix) == ("signing_secret", True, "")


def test_fingerprints_are_keyed_and_never_contain_the_value(store: Store) -> None:
    value = "hunter2-super-secret"
    apply_ops(store, Create(kind="sources", name="crm", spec={"token": "${env:CRM}"},
                            values={"token": value}, generate=()))

    stored = store.snapshot(ENV).resources["sources.crm"].fingerprints["token"]

    assert stored == store.fingerprint(value) == store.fingerprint(value)
    assert re.fullmatch(r"fp:[0-9a-f]{64}", stored)
    assert value not in stored
    assert store.fingerprint(value + "!") != stored
    assert store.fingerprint("") != stored
    assert SecretBox(Fernet.generate_key()).fingerprint(value) != stored
    assert stored != "fp:" + hashlib.sha256(value.encode()).hexdigest()


def test_rotation_keeps_the_old_signing_secret_valid_for_the_grace_period(
        store: Store) -> None:
    apply_ops(store, trigger("notify"))
    old = store.read_secret(ENV, "triggers", "notify", "signing_secret")
    serial = store.serial(ENV)

    new = store.rotate_secret(ENV, "triggers", "notify", "signing_secret", grace_hours=24,
                              actor="alice")

    assert new != old and new.startswith("whsec_")
    assert store.read_secret(ENV, "triggers", "notify", "signing_secret") == new
    assert store.signing_secrets(ENV, "triggers", "notify", "signing_secret") == [new, old]
    current, previous = store.secret_info(ENV, "triggers", "notify")
    assert (current.status, current.expires_at) == ("current", None)
    assert previous.status == "previous"
    assert previous.expires_at is not None
    expires = datetime.fromisoformat(previous.expires_at)
    expected = datetime.now(UTC) + timedelta(hours=24)
    assert abs((expires - expected).total_seconds()) < 120
    snap = store.snapshot(ENV)
    assert snap.serial == serial + 1
    (event,) = snap.resources["triggers.notify"].drift
    assert event.what.startswith("signing secret rotated") and event.by == "alice"
    entry = store.history(ENV)[0]
    assert (entry.action, entry.actor, entry.serial) == ("rotate-secret", "alice", serial + 1)
    assert entry.details["secret_kind"] == "signing_secret"
    assert old not in repr(entry) and new not in repr(entry)


def test_a_previous_secret_past_its_grace_period_is_ignored(store: Store,
                                                            database_url: str) -> None:
    apply_ops(store, trigger("notify"))
    store.rotate_secret(ENV, "triggers", "notify", "signing_secret", grace_hours=24)
    newest = store.rotate_secret(ENV, "triggers", "notify", "signing_secret", grace_hours=0)

    assert store.signing_secrets(ENV, "triggers", "notify", "signing_secret")[0] == newest
    execute(database_url, "UPDATE secrets SET expires_at = :past WHERE status = 'previous'",
            past=datetime.now(UTC) - timedelta(minutes=1))

    assert store.signing_secrets(ENV, "triggers", "notify", "signing_secret") == [newest]
    assert [i.status for i in store.secret_info(ENV, "triggers", "notify")] == ["current"]
    assert row_counts(database_url)["secrets"] == 3
    store.rotate_secret(ENV, "triggers", "notify", "signing_secret")
    assert row_counts(database_url)["secrets"] == 2  # expired ones are swept at rotation


def test_token_rotation_returns_the_new_token_once(store: Store, database_url: str) -> None:
    apply_ops(store, _bearer())
    old = store.reveal_token(ENV, "inbound_webhooks", "pagerduty")

    new = store.rotate_secret(ENV, "inbound_webhooks", "pagerduty", "token", grace_hours=1)

    assert new.startswith("hpt_") and new != old
    assert store.verify_token(ENV, "inbound_webhooks", "pagerduty", new)
    assert store.verify_token(ENV, "inbound_webhooks", "pagerduty", old)
    assert new not in dump(database_url)
    with pytest.raises(SecretError, match="already revealed"):
        store.reveal_token(ENV, "inbound_webhooks", "pagerduty")
    store.rotate_secret(ENV, "inbound_webhooks", "pagerduty", "token", grace_hours=0)
    assert not store.verify_token(ENV, "inbound_webhooks", "pagerduty", new)


def test_rotating_a_secret_the_resource_does_not_have(store: Store) -> None:
    apply_ops(store, trigger("notify"))

    with pytest.raises(SecretError, match="has no token to rotate"):
        store.rotate_secret(ENV, "triggers", "notify", "token")


def test_dropping_a_secret_kind_removes_it(store: Store, database_url: str) -> None:
    apply_ops(store, _bearer())

    apply_ops(store, Update(kind="inbound_webhooks", name="pagerduty",
                            spec={"auth": {"type": "none"}}, values={}, drop=("token",)))

    assert store.secret_info(ENV, "inbound_webhooks", "pagerduty") == []
    assert row_counts(database_url)["secrets"] == 0


def test_a_different_secret_key_is_refused_when_the_store_opens(
        store: Store, database_url: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_ops(store, trigger("notify"))
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())

    with pytest.raises(SecretError, match="does not match the one the state database"):
        Store.open(database_url, root=root)


def test_a_wrong_key_cannot_decrypt(store: Store, database_url: str, root: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    apply_ops(store, trigger("notify"))
    execute(database_url, "DELETE FROM hookplane_meta")  # as if the key check were lost
    wrong = Fernet.generate_key().decode()
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", wrong)

    with Store.open(database_url, root=root) as other:
        with pytest.raises(SecretError,
                           match=r"cannot decrypt: wrong HOOKPLANE_SECRET_KEY\?") as caught:
            other.read_secret(ENV, "triggers", "notify", "signing_secret")
        assert wrong not in str(caught.value)


def test_the_plan_file_key_is_derived_from_the_secret_key(store: Store) -> None:
    key = Fernet.generate_key()
    derived = SecretBox(key).plan_file_key()
    assert derived == SecretBox(key).plan_file_key() and len(derived) == 32
    assert derived != SecretBox(Fernet.generate_key()).plan_file_key()
    assert derived not in (key, base64.urlsafe_b64decode(key))
    assert store.plan_file_key() == store.plan_file_key() != derived
    # its own label: not the fingerprint key, so a fingerprint is no MAC of a plan file
    assert store.fingerprint("x") != "fp:" + hmac.new(store.plan_file_key(), b"x",
                                                      hashlib.sha256).hexdigest()
