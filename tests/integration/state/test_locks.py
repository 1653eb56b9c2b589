"""The environment lock: one holder, Terraform-style messages, force-unlock, two processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hookplane.errors import LockError
from hookplane.state import Store

from .conftest import ENV, apply_ops, run_together, trigger

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_a_held_lock_is_refused_with_who_holds_it(store: Store) -> None:
    held = store.acquire_lock(ENV, who="alice@laptop", operation="apply")

    with pytest.raises(LockError) as caught:
        store.acquire_lock(ENV, who="bob@ci", operation="apply")

    message = str(caught.value)
    assert message.splitlines()[0] == "Error acquiring the state lock"
    assert re.fullmatch(_UUID, held.id)
    assert f"ID:          {held.id}" in message
    assert "Who:         alice@laptop" in message
    assert "Operation:   apply" in message
    assert f"Created:     {held.created_at}" in message
    assert message.endswith(f"hookplane force-unlock {ENV} {held.id}")
    assert "bob@ci" not in message


def test_locks_are_per_environment_and_released(store: Store) -> None:
    first = store.acquire_lock(ENV, who="alice", operation="apply")
    store.acquire_lock("production", who="bob", operation="apply")

    store.release_lock(ENV, first.id)
    again = store.acquire_lock(ENV, who="carol", operation="apply")

    assert again.id != first.id
    assert again.who == "carol"


def test_lock_context_manager_releases_even_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.lock(ENV, who="alice", operation="apply"):
        raise RuntimeError("boom")

    with store.lock(ENV, who="bob", operation="apply") as info:
        assert info.environment == ENV
        with pytest.raises(LockError, match="Who:         bob"):
            store.acquire_lock(ENV, who="carol", operation="apply")
    store.acquire_lock(ENV, who="carol", operation="apply")


def test_force_unlock_with_the_right_id_releases_and_is_audited(store: Store) -> None:
    held = store.acquire_lock(ENV, who="alice", operation="apply")

    store.force_unlock(ENV, held.id, actor="bob")

    store.acquire_lock(ENV, who="bob", operation="apply")
    entry = store.history(ENV)[0]
    assert (entry.action, entry.actor, entry.serial) == ("force-unlock", "bob", 0)
    assert entry.details["lock_id"] == held.id
    assert entry.details["who"] == "alice"


def test_force_unlock_with_a_wrong_id_names_the_real_lock(store: Store) -> None:
    held = store.acquire_lock(ENV, who="alice", operation="apply")

    with pytest.raises(LockError, match=f"has ID {held.id}, not 1234.*held by alice"):
        store.force_unlock(ENV, "1234")

    with pytest.raises(LockError, match="Who:         alice"):
        store.acquire_lock(ENV, who="bob", operation="apply")
    assert store.history(ENV) == []


def test_force_unlock_without_a_lock(store: Store) -> None:
    with pytest.raises(LockError, match="'preview' is not locked"):
        store.force_unlock(ENV, "1234")


def test_releasing_a_lock_that_was_force_unlocked_never_frees_the_new_holder(
        store: Store) -> None:
    first = store.acquire_lock(ENV, who="alice", operation="apply")
    store.force_unlock(ENV, first.id, actor="ops")
    second = store.acquire_lock(ENV, who="bob", operation="apply")

    with pytest.raises(LockError, match=r"was force-unlocked.*held by bob"):
        store.release_lock(ENV, first.id)

    with pytest.raises(LockError, match="Who:         bob"):
        store.acquire_lock(ENV, who="carol", operation="apply")
    store.release_lock(ENV, second.id)


_LOCKER = """
import json, sys
from pathlib import Path
from hookplane.errors import LockError
from hookplane.state import Store

url, root, who = sys.argv[1:4]
with Store.open(url, root=Path(root)) as store:
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        info = store.acquire_lock("preview", who=who, operation="apply")
        print(json.dumps({"won": True, "id": info.id}), flush=True)
    except LockError as exc:
        print(json.dumps({"won": False, "message": str(exc)}), flush=True)
    sys.stdin.readline()
"""


def test_two_processes_race_for_the_lock_and_exactly_one_wins(database_url: str,
                                                              root: Path) -> None:
    Store.open(database_url, root=root).close()  # migrate first; the race is for the lock
    results = run_together(_LOCKER, [database_url, str(root), "proc-a"],
                           [database_url, str(root), "proc-b"])

    winners = [r for r, who in zip(results, ("proc-a", "proc-b"), strict=True) if r["won"]]
    losers = [(r, who) for r, who in zip(results, ("proc-a", "proc-b"), strict=True)
              if not r["won"]]
    assert len(winners) == 1 and len(losers) == 1
    (loser, loser_name), = losers
    winner_name = "proc-b" if loser_name == "proc-a" else "proc-a"
    message = str(loser["message"])
    assert message.startswith("Error acquiring the state lock\n")
    assert f"ID:          {winners[0]['id']}" in message
    assert f"Who:         {winner_name}" in message
    assert "database is locked" not in message


_COMMITTER = """
import json, sys
from pathlib import Path
from hookplane.errors import StaleStateError
from hookplane.state import AuditRecord, Create, Store

url, root, name, lineage, serial = sys.argv[1:6]
with Store.open(url, root=Path(root)) as store:
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        result = store.commit("preview", environment_kind="preview", expected_lineage=lineage,
                              expected_serial=int(serial), audit=AuditRecord("apply", name),
                              operations=[Create("triggers", name, {"url": name}, {},
                                                 ("signing_secret",))])
        print(json.dumps({"won": True, "serial": result.serial}), flush=True)
    except StaleStateError as exc:
        print(json.dumps({"won": False, "message": str(exc)}), flush=True)
"""


@pytest.mark.parametrize("existing", [False, True], ids=["first-commit", "later-commit"])
def test_two_processes_commit_against_the_same_serial_and_one_is_stale(
        database_url: str, root: Path, existing: bool) -> None:
    with Store.open(database_url, root=root) as store:
        if existing:
            apply_ops(store, trigger("seed"))
        snap = store.snapshot(ENV)
    results = run_together(_COMMITTER,
                           *([database_url, str(root), name, snap.lineage, str(snap.serial)]
                             for name in ("proc-a", "proc-b")))

    assert sorted(bool(r["won"]) for r in results) == [False, True]
    (loser,) = [r for r in results if not r["won"]]
    assert str(loser["message"]).startswith("Saved plan is stale")
    with Store.open(database_url, root=root) as store:
        after = store.snapshot(ENV)
        assert after.serial == snap.serial + 1
        assert len(after.resources) == len(snap.resources) + 1
        assert [e.action for e in store.history(ENV)].count("apply") == (
            1 + (1 if existing else 0))
