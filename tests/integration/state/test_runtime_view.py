"""Store.runtime_view: one read of an environment with decrypted values and valid secrets."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from hookplane.state import Create, Store

from .conftest import ENV, apply_ops, execute


def _resources() -> list[Create]:
    return [
        Create(kind="collections", name="incidents", spec={"schema": {"type": "object"}}),
        Create(kind="triggers", name="notify",
               spec={"collection": "incidents", "url": "https://x.test",
                     "headers": {"X-Key": "${env:KEY}"}},
               values={"headers.X-Key": "resolved-value-1"}, generate=("signing_secret",)),
        Create(kind="inbound_webhooks", name="github",
               spec={"collection": "incidents", "auth": {"type": "github"}},
               generate=("hmac_secret",)),
        Create(kind="inbound_webhooks", name="pagerduty",
               spec={"collection": "incidents", "auth": {"type": "bearer"}},
               generate=("token",)),
        Create(kind="api_keys", name="ci", spec={"scopes": ["read"]}, generate=("token",)),
    ]


def test_an_environment_never_applied_has_an_empty_view(store: Store) -> None:
    view = store.runtime_view("nowhere")
    assert (view.environment, view.lineage, view.serial, view.resources) == ("nowhere", "", 0,
                                                                             ())
    assert view.valid_until is None


def test_the_view_holds_every_resource_with_values_and_secrets(store: Store) -> None:
    result = apply_ops(store, *_resources())
    apply_ops(store, Create(kind="collections", name="elsewhere", spec={}),
              environment="production")
    signing = store.read_secret(ENV, "triggers", "notify", "signing_secret")
    hmac_secret = store.read_secret(ENV, "inbound_webhooks", "github", "hmac_secret")
    token = store.reveal_token(ENV, "inbound_webhooks", "pagerduty")

    view = store.runtime_view(ENV)

    snapshot = store.snapshot(ENV)
    assert (view.serial, view.lineage) == (snapshot.serial, snapshot.lineage)
    assert [(r.kind, r.name) for r in view.resources] == [
        ("api_keys", "ci"), ("collections", "incidents"), ("inbound_webhooks", "github"),
        ("inbound_webhooks", "pagerduty"), ("triggers", "notify")]
    notify = view.get("triggers", "notify")
    assert notify is not None
    assert notify.id == result.ids["triggers.notify"] == snapshot.resources[
        "triggers.notify"].id
    assert view.by_id(notify.id) is notify
    assert view.by_id("triggers.notify") is None and view.get("triggers", "nope") is None
    assert notify.spec == snapshot.resources["triggers.notify"].spec
    assert notify.values == {"headers.X-Key": "resolved-value-1"}
    assert notify.secrets == {"signing_secret": (signing,)}
    assert notify.token_hashes == ()
    assert notify.created_at.endswith("Z")

    github = view.get("inbound_webhooks", "github")
    assert github is not None and github.secrets == {"hmac_secret": (hmac_secret,)}
    pagerduty = view.get("inbound_webhooks", "pagerduty")
    assert pagerduty is not None
    assert pagerduty.secrets == {}  # tokens only as hashes
    assert pagerduty.token_hashes == (hashlib.sha256(token.encode()).hexdigest(),)
    assert pagerduty.verify_token(token) and not pagerduty.verify_token(token + "x")
    assert pagerduty.token_prefix == token[:12] and pagerduty.has_secret("token")
    assert all(s.value is None for s in pagerduty.stored_secrets)
    assert token not in repr(view)
    assert [r.name for r in view.of_kind("inbound_webhooks")] == ["github", "pagerduty"]
    assert view.get("collections", "elsewhere") is None


def test_rotated_secrets_in_grace_are_included_and_expired_ones_are_not(
        store: Store, database_url: str) -> None:
    apply_ops(store, *_resources())
    oldest = store.read_secret(ENV, "triggers", "notify", "signing_secret")
    middle = store.rotate_secret(ENV, "triggers", "notify", "signing_secret", grace_hours=24)
    newest = store.rotate_secret(ENV, "triggers", "notify", "signing_secret", grace_hours=24)
    first_token = store.reveal_token(ENV, "api_keys", "ci")
    second_token = store.rotate_secret(ENV, "api_keys", "ci", "token", grace_hours=1)
    # the oldest signing secret's grace period is over
    execute(database_url, "UPDATE secrets SET expires_at = :past WHERE ciphertext IS NOT NULL "
            "AND status = 'previous' AND created_at = (SELECT MIN(created_at) FROM secrets "
            "WHERE status = 'previous' AND secret_kind = 'signing_secret')",
            past=datetime.now(UTC) - timedelta(minutes=1))
    assert store.signing_secrets(ENV, "triggers", "notify", "signing_secret") == [newest,
                                                                                   middle]

    view = store.runtime_view(ENV)

    notify = view.get("triggers", "notify")
    assert notify is not None
    assert notify.secrets == {"signing_secret": (newest, middle)}
    assert oldest not in repr(notify)
    assert [s.status for s in notify.stored_secrets] == ["current", "previous"]
    ci = view.get("api_keys", "ci")
    assert ci is not None
    assert ci.verify_token(first_token) and ci.verify_token(second_token)
    assert ci.token_hashes[0] == hashlib.sha256(second_token.encode()).hexdigest()
    assert ci.token_prefix == second_token[:12]
    # grace periods end without the serial moving: checked when asked, and announced
    assert view.valid_until is not None
    assert timedelta(minutes=55) < view.valid_until - datetime.now(UTC) < timedelta(hours=1)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert ci.verify_token(first_token, now=later) is False
    assert ci.verify_token(second_token, now=later) is True
    assert notify.valid_secrets("signing_secret", now=later) == [newest, middle]
    assert notify.valid_secrets("signing_secret",
                                now=datetime.now(UTC) + timedelta(hours=25)) == [newest]
