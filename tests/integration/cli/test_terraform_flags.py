"""The flags CI users reach for, as Terraform has them: --target, --destroy, --refresh-only,
--lock=false, --lock-timeout, --input=false, --no-color anywhere, `show PLANFILE`; and the lock
held from before the plan until the commit (a second apply could land while the first waited
at its prompt, which then failed with "Saved plan is stale" although no plan was saved)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hookplane.errors import LockError
from hookplane.state.store import Store
from tests.integration.cli import test_plan_apply
from tests.integration.cli.test_plan_apply import Cli

project = test_plan_apply.project  # the same fixture: the demo project, secrets checked


def test_target_limits_the_plan_to_a_resource_and_what_it_refers_to(project: Cli) -> None:
    out = project("plan", "preview", "--target", "triggers.notify-slack-p1")
    assert "Resource targeting is in effect" in out
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in out  # the trigger + its collection
    assert '# collections.incidents will be created' in out
    assert "sources.pagerduty" not in out
    project("apply", "preview", "--target", "triggers.notify-slack-p1", "--auto-approve")
    rest = project("plan", "preview")
    assert "triggers.notify-slack-p1" not in rest and "Plan: 13 to add" in rest
    bad = project("plan", "preview", "--target", "triggers.nope", code=1)
    assert "--target names no resource of this environment: triggers.nope" in bad


def test_destroy_plans_every_applied_resource_away(project: Cli) -> None:
    project("apply", "preview", "--auto-approve")
    out = project("plan", "preview", "--destroy")
    assert "Destroy mode" in out and "Plan: 0 to add, 0 to change, 15 to destroy." in out
    project("apply", "preview", "--destroy", "--auto-approve")
    assert "Plan: 15 to add" in project("plan", "preview")


def test_refresh_only_acknowledges_drift(project: Cli, database_url: str) -> None:
    project("apply", "preview", "--auto-approve")
    with Store.open(database_url, root=project.root) as store:  # the new secret is not output
        store.rotate_secret("preview", "triggers", "notify-slack-p1", "signing_secret")
    before = project("plan", "preview")
    assert "signing secret rotated" in before and "No changes" in before
    # an ordinary apply with no changes never cleared the note; refresh-only does
    project("apply", "preview", "--auto-approve")
    assert "signing secret rotated" in project("plan", "preview")
    shown = project("plan", "preview", "--refresh-only", "--detailed-exitcode", code=2)
    assert "Refresh-only: 1 drift note(s) to acknowledge." in shown
    done = project("apply", "preview", "--refresh-only", "--auto-approve")
    assert "1 drift note(s) acknowledged; no resource changed" in done
    after = project("plan", "preview")
    assert "signing secret rotated" not in after and "No changes" in after
    assert "mode=refresh-only" in project("history", "preview")


def test_show_reads_a_saved_plan_and_refuses_an_edited_one(project: Cli, tmp_path: Path) -> None:
    saved = tmp_path / "preview.plan"
    project("plan", "preview", "--target", "triggers.notify-slack-p1", "--out", str(saved))
    text = project("show", str(saved))
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in text
    document = json.loads(project("show", str(saved), "--json"))
    assert document["targets"] == ["triggers.notify-slack-p1"]
    change = next(c for c in document["resource_changes"]
                  if c["address"] == "triggers.notify-slack-p1")
    assert change["change"]["actions"] == ["create"] and change["type"] == "triggers"
    assert change["change"]["after_sensitive"]["url"] is True  # ${env:SLACK_WEBHOOK_URL}
    assert change["change"]["before_sensitive"] is False
    saved.write_text(saved.read_text().replace("notify-slack-p1", "notify-slock"))
    assert "failed its integrity check" in project("show", str(saved), code=1)


def test_input_false_never_prompts(project: Cli) -> None:
    out = project("apply", "preview", "--input=false", code=1)
    assert "apply needs confirmation but --input=false" in out


def test_no_color_after_the_subcommand(project: Cli) -> None:
    assert "preview:" in project("validate", "preview", "--no-color")


def test_lock_timeout_waits_for_the_lock_and_lock_false_takes_none(
        project: Cli, database_url: str) -> None:
    with Store.open(database_url, root=project.root) as store:
        held = store.acquire_lock("preview", who="bob", operation="apply")

        def release_later() -> None:
            time.sleep(1.0)
            with Store.open(database_url, root=project.root) as other:
                other.release_lock("preview", held.id)

        refused = project("apply", "preview", "--auto-approve", code=1)
        assert "Error acquiring the state lock" in refused and "bob" in refused
        releaser = threading.Thread(target=release_later)
        releaser.start()
        try:
            done = project("apply", "preview", "--auto-approve", "--lock-timeout", "20s")
        finally:
            releaser.join()
        assert "Apply complete!" in done
        again = store.acquire_lock("preview", who="carol", operation="apply")
        try:
            project("triggers", "rotate-secret", "preview", "notify-slack-p1", code=1)
            project("apply", "preview", "--destroy", "--auto-approve", "--lock=false")
        finally:
            store.release_lock("preview", again.id)


def test_rotate_secret_takes_the_lock(project: Cli, database_url: str) -> None:
    project("apply", "preview", "--auto-approve")
    with Store.open(database_url, root=project.root) as store:
        held = store.acquire_lock("preview", who="bob", operation="apply")
        try:
            with pytest.raises(LockError, match="bob"):
                store.rotate_secret("preview", "triggers", "notify-slack-p1", "signing_secret")
            out = project("triggers", "rotate-secret", "preview", "notify-slack-p1", code=1)
            assert "Error acquiring the state lock" in out
        finally:
            store.release_lock("preview", held.id)
        store.rotate_secret("preview", "triggers", "notify-slack-p1", "signing_secret")


def test_the_lock_covers_plan_then_apply(project: Cli) -> None:
    """While one apply waits at its "yes" prompt (on a real terminal), it holds the lock: a
    second apply is refused naming the holder. It used to land, and the first then failed
    with "Saved plan is stale" although no plan was saved."""
    main, replica = pty.openpty()
    first = subprocess.Popen(
        [sys.executable, "-m", "hookplane.cli", "-C", str(project.root), "--no-color", "apply",
         "preview"], stdin=replica, stdout=replica, stderr=replica, env=os.environ.copy())
    os.close(replica)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"Enter a value" not in seen:
            assert time.monotonic() < deadline and first.poll() is None, seen.decode()
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(main, 65536)
                except OSError:  # the child closed the terminal: it exited
                    break
        second = project("apply", "preview", "--auto-approve", code=1)
        assert "Error acquiring the state lock" in second and "Operation:   apply" in second
        os.write(main, b"yes\n")
        deadline = time.monotonic() + 60
        while first.poll() is None:
            assert time.monotonic() < deadline
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(main, 65536)
                except OSError:
                    break
        first.wait(timeout=30)
        assert first.returncode == 0, seen.decode()
        assert b"Apply complete!" in seen
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        os.close(main)
    assert "No changes" in project("plan", "preview")


def test_triggers_list_reads_the_state_once(project: Cli, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    """`triggers list` read the whole snapshot again for every row (quadratic in triggers)."""
    project("apply", "preview", "--auto-approve")
    calls = []
    original = Store.snapshot

    def counted(self: Store, environment: str) -> object:
        calls.append(environment)
        return original(self, environment)

    monkeypatch.setattr(Store, "snapshot", counted)
    out = project("triggers", "list", "preview", "--json")
    assert len(json.loads(out)) == 4 and len(calls) == 1, calls
