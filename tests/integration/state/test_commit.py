"""Snapshots and commits: ids, serial and lineage, stale plans, all-or-nothing."""

from __future__ import annotations

import re

import pytest

from hookplane.config.applied import canonical_hash
from hookplane.errors import StaleStateError, StateError
from hookplane.state import Create, Delete, Move, Store, Update

from .conftest import ENV, apply_ops, audit, row_counts, trigger


def test_snapshot_of_an_environment_never_written(store: Store) -> None:
    snap = store.snapshot(ENV)

    assert (snap.environment, snap.lineage, snap.serial, snap.resources) == (ENV, "", 0, {})
    assert store.serial(ENV) == 0
    assert store.environments() == []


def test_create_gives_prefixed_ids_and_stores_the_spec(store: Store) -> None:
    spec = {"collection": "incidents", "url": "https://example.test/hook", "events": ["create"]}
    result = apply_ops(
        store,
        Create(kind="triggers", name="notify", spec=spec, values={}, generate=("signing_secret",)),
        Create(kind="inbound_webhooks", name="pagerduty", spec={"auth": {"type": "bearer"}},
               values={}, generate=("token",)),
        Create(kind="collections", name="incidents", spec={"type": "object"}, values={},
               generate=()),
    )

    assert re.fullmatch(r"trg_[0-9a-z]{20}", result.ids["triggers.notify"])
    assert re.fullmatch(r"iw_[0-9a-z]{20}", result.ids["inbound_webhooks.pagerduty"])
    assert re.fullmatch(r"col_[0-9a-z]{20}", result.ids["collections.incidents"])
    snap = store.snapshot(ENV)
    notify = snap.resources["triggers.notify"]
    assert notify.id == result.ids["triggers.notify"]
    assert notify.spec == spec
    assert notify.applied_hash == canonical_hash(spec)
    assert notify.generated == ("signing_secret",)
    assert snap.resources["inbound_webhooks.pagerduty"].generated == ("token",)
    assert snap.resources["collections.incidents"].generated == ()
    assert notify.created_at.endswith("Z") and notify.created_at == notify.updated_at
    assert store.environments() == [ENV]


def test_serial_moves_by_one_per_commit_and_lineage_stays(store: Store) -> None:
    first = apply_ops(store, trigger("a"))
    second = apply_ops(store, trigger("b"))
    third = apply_ops(store, Delete(kind="triggers", name="a"))

    assert (first.serial, second.serial, third.serial) == (1, 2, 3)
    assert re.fullmatch(r"[0-9a-f]{32}", first.lineage)
    assert first.lineage == second.lineage == third.lineage
    assert store.serial(ENV) == 3
    assert store.snapshot(ENV).lineage == first.lineage
    assert store.serial("production") == 0


def test_environments_are_independent(store: Store) -> None:
    preview = apply_ops(store, trigger("a"))
    production = apply_ops(store, trigger("a"), environment="production")

    assert preview.lineage != production.lineage
    assert preview.ids["triggers.a"] != production.ids["triggers.a"]
    assert store.environments() == ["preview", "production"]
    assert set(store.snapshot("production").resources) == {"triggers.a"}


def test_update_keeps_id_and_secret_and_replaces_values(store: Store) -> None:
    created = apply_ops(store, Create(kind="triggers", name="notify", spec={"url": "${env:A}"},
                                      values={"url": "https://one.test"},
                                      generate=("signing_secret",)))
    secret = store.read_secret(ENV, "triggers", "notify", "signing_secret")
    before = store.snapshot(ENV).resources["triggers.notify"]

    result = apply_ops(store, Update(kind="triggers", name="notify",
                                     spec={"url": "${env:B}", "active": False},
                                     values={"url": "https://two.test"}))

    after = store.snapshot(ENV).resources["triggers.notify"]
    assert result.ids == {}
    assert after.id == before.id == created.ids["triggers.notify"]
    assert after.spec == {"url": "${env:B}", "active": False}
    assert after.applied_hash == canonical_hash(after.spec) != before.applied_hash
    assert after.fingerprints["url"] == store.fingerprint("https://two.test")
    assert after.fingerprints != before.fingerprints
    assert store.resolved_values(ENV, "triggers", "notify") == {"url": "https://two.test"}
    assert store.read_secret(ENV, "triggers", "notify", "signing_secret") == secret
    assert after.created_at == before.created_at


def test_update_generates_and_drops_secret_kinds(store: Store) -> None:
    apply_ops(store, Create(kind="inbound_webhooks", name="in", spec={"auth": {"type": "bearer"}},
                            values={}, generate=("token",)))

    apply_ops(store, Update(kind="inbound_webhooks", name="in", spec={"auth": {"type": "hmac"}},
                            values={}, generate=("hmac_secret",), drop=("token",)))

    resource = store.snapshot(ENV).resources["inbound_webhooks.in"]
    assert resource.generated == ("hmac_secret",)
    assert [info.kind for info in store.secret_info(ENV, "inbound_webhooks", "in")] == [
        "hmac_secret"]
    assert store.read_secret(ENV, "inbound_webhooks", "in", "hmac_secret").startswith("whsec_")


def test_update_does_not_regenerate_a_secret_it_already_holds(store: Store) -> None:
    apply_ops(store, trigger("notify"))
    secret = store.read_secret(ENV, "triggers", "notify", "signing_secret")

    apply_ops(store, Update(kind="triggers", name="notify", spec={"url": "https://x.test"},
                            values={}, generate=("signing_secret",)))

    assert store.read_secret(ENV, "triggers", "notify", "signing_secret") == secret
    assert len(store.secret_info(ENV, "triggers", "notify")) == 1


def test_move_keeps_id_and_secret_and_can_be_updated_in_the_same_commit(
        store: Store) -> None:
    created = apply_ops(store, trigger("old-name"))
    secret = store.read_secret(ENV, "triggers", "old-name", "signing_secret")

    result = apply_ops(
        store,
        Move(kind="triggers", old_name="old-name", new_name="new-name"),
        Update(kind="triggers", name="new-name", spec={"url": "https://moved.test"}, values={}),
    )

    snap = store.snapshot(ENV)
    assert set(snap.resources) == {"triggers.new-name"}
    moved = snap.resources["triggers.new-name"]
    assert moved.id == created.ids["triggers.old-name"] == result.ids["triggers.new-name"]
    assert moved.spec == {"url": "https://moved.test"}
    assert store.read_secret(ENV, "triggers", "new-name", "signing_secret") == secret


def test_delete_removes_the_resource_and_its_secrets(store: Store,
                                                     database_url: str) -> None:
    apply_ops(store, trigger("a"), trigger("b"))

    apply_ops(store, Delete(kind="triggers", name="a"))

    assert set(store.snapshot(ENV).resources) == {"triggers.b"}
    assert row_counts(database_url)["secrets"] == 1
    with pytest.raises(StateError, match=r"triggers\.a: it is not in the state of 'preview'"):
        store.read_secret(ENV, "triggers", "a", "signing_secret")


def test_a_deleted_and_recreated_resource_gets_a_new_id(store: Store) -> None:
    first = apply_ops(store, trigger("a"))
    second = apply_ops(store, Delete(kind="triggers", name="a"), trigger("a"))

    assert first.ids["triggers.a"] != second.ids["triggers.a"]


@pytest.mark.parametrize(("operation", "message"), [
    (Update(kind="triggers", name="ghost", spec={}, values={}),
     "cannot update triggers.ghost: it is not in the state of 'preview'"),
    (Delete(kind="triggers", name="ghost"),
     "cannot delete triggers.ghost: it is not in the state of 'preview'"),
    (Move(kind="triggers", old_name="ghost", new_name="other"),
     "cannot move triggers.ghost to triggers.other: triggers.ghost is not in the state of "
     "'preview'"),
    (Move(kind="triggers", old_name="a", new_name="b"),
     "cannot move triggers.a to triggers.b: triggers.b already exists in 'preview'"),
    (trigger("a"), "cannot create triggers.a: it already exists in 'preview'"),
    (Create(kind="widgets", name="w", spec={}, values={}, generate=()),
     "cannot create widgets.w: unknown resource kind 'widgets'"),
])
def test_impossible_operations_are_state_errors(store: Store, operation: object,
                                                message: str) -> None:
    apply_ops(store, trigger("a"), trigger("b"))

    with pytest.raises(StateError, match=re.escape(message)):
        apply_ops(store, operation)


def test_a_failure_mid_commit_leaves_the_state_exactly_as_it_was(store: Store,
                                                                  database_url: str) -> None:
    apply_ops(store, trigger("keep"), trigger("change"),
              Create(kind="inbound_webhooks", name="in", spec={"auth": {"type": "bearer"}},
                     values={}, generate=("token",)))
    store.record_drift(ENV, "triggers", "keep", "changed through the admin API", "admin")
    before = store.snapshot(ENV)
    counts = row_counts(database_url)
    history = store.history(ENV)

    with pytest.raises(StateError, match=r"cannot update triggers\.missing"):
        store.commit(ENV, environment_kind="preview", expected_lineage=before.lineage,
                     expected_serial=before.serial, audit=audit(), operations=[
                         trigger("new"),
                         Update(kind="triggers", name="change", spec={"url": "https://x"},
                                values={"url": "v"}, drop=("signing_secret",)),
                         Update(kind="triggers", name="missing", spec={}, values={}),
                         Delete(kind="triggers", name="keep"),
                     ])

    assert store.snapshot(ENV) == before
    assert row_counts(database_url) == counts
    assert store.history(ENV) == history
    assert store.serial(ENV) == before.serial


def test_stale_serial_is_refused(store: Store) -> None:
    apply_ops(store, trigger("a"))
    plan_made_at = store.snapshot(ENV)
    apply_ops(store, trigger("b"))  # someone else applied meanwhile

    with pytest.raises(StaleStateError, match=r"^Saved plan is stale: .*serial 1 to 2"):
        store.commit(ENV, environment_kind="preview", expected_lineage=plan_made_at.lineage,
                     expected_serial=plan_made_at.serial, operations=[trigger("c")],
                     audit=audit())

    assert set(store.snapshot(ENV).resources) == {"triggers.a", "triggers.b"}


def test_stale_lineage_is_refused(store: Store) -> None:
    apply_ops(store, trigger("a"))
    snap = store.snapshot(ENV)

    with pytest.raises(StaleStateError, match=r"^Saved plan is stale: .*lineage"):
        store.commit(ENV, environment_kind="preview", expected_lineage="0" * 32,
                     expected_serial=snap.serial, operations=[trigger("c")], audit=audit())


def test_plan_made_against_state_that_no_longer_exists_is_refused(store: Store) -> None:
    with pytest.raises(StaleStateError, match=r"^Saved plan is stale: .*now has no state"):
        store.commit(ENV, environment_kind="preview", expected_lineage="ab" * 16,
                     expected_serial=4, operations=[trigger("c")], audit=audit())

    assert store.serial(ENV) == 0


def test_drift_is_recorded_moves_the_serial_and_is_cleared_by_the_next_commit(
        store: Store) -> None:
    apply_ops(store, trigger("a"), trigger("b"))

    store.record_drift(ENV, "triggers", "a", "deactivated through the admin API", by="admin")

    snap = store.snapshot(ENV)
    assert snap.serial == 2
    (event,) = snap.resources["triggers.a"].drift
    assert (event.what, event.by) == ("deactivated through the admin API", "admin")
    assert event.at.endswith("Z")
    assert snap.resources["triggers.b"].drift == ()

    apply_ops(store, Update(kind="triggers", name="b", spec={"url": "https://b"}, values={}))

    assert all(r.drift == () for r in store.snapshot(ENV).resources.values())


def test_record_drift_on_a_missing_resource_is_a_state_error(store: Store) -> None:
    with pytest.raises(StateError, match=r"triggers\.nope"):
        store.record_drift(ENV, "triggers", "nope", "x", "runtime")
