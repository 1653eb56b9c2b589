"""The audit log: one entry per apply, promotion and force-unlock; newest first."""

from __future__ import annotations

from hookplane.state import AuditRecord, Store

from .conftest import ENV, apply_ops, trigger


def test_commit_appends_the_audit_record_at_the_new_serial(store: Store) -> None:
    snap = store.snapshot(ENV)
    record = AuditRecord(action="apply", actor="alice (ci:github)", git_commit="9f8e7d6c",
                         plan_digest="sha256:abc",
                         details={"add": 1, "change": 0, "config_digest": "sha256:def"})

    store.commit(ENV, environment_kind="preview", expected_lineage=snap.lineage,
                 expected_serial=snap.serial, operations=[trigger("a")], audit=record)

    (entry,) = store.history(ENV)
    assert entry.record == record
    assert (entry.environment, entry.serial) == (ENV, 1)
    assert entry.at.endswith("Z")
    assert entry.id >= 1


def test_history_is_newest_first_and_per_environment(store: Store) -> None:
    apply_ops(store, trigger("a"))
    apply_ops(store, trigger("b"))
    store.record_audit(ENV, AuditRecord(action="promote", actor="bob",
                                        details={"from": "preview", "to": "production"}))
    apply_ops(store, trigger("a"), environment="production")

    entries = store.history(ENV)

    assert [(e.action, e.serial) for e in entries] == [("promote", 2), ("apply", 2),
                                                      ("apply", 1)]
    assert entries[0].details == {"from": "preview", "to": "production"}
    assert entries[0].plan_digest is None and entries[0].git_commit is None
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    assert [e.action for e in store.history("production")] == ["apply"]
    assert len(store.history(ENV, limit=2)) == 2
    assert store.history("staging") == []


def test_record_audit_does_not_move_the_serial(store: Store) -> None:
    apply_ops(store, trigger("a"))

    entry = store.record_audit(ENV, AuditRecord(action="promote", actor="bob"))

    assert store.serial(ENV) == 1
    assert entry.serial == 1
    assert store.history(ENV)[0] == entry


def test_an_environment_can_be_audited_before_its_first_apply(store: Store) -> None:
    store.record_audit("production", AuditRecord(action="promote", actor="bob"))

    (entry,) = store.history("production")
    assert entry.serial == 0
    assert store.serial("production") == 0
    assert store.environments() == []
