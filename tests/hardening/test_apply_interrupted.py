"""``kill -9`` of ``hookplane apply`` while it holds the environment lock, on a large
environment: the state afterwards is exactly the old one or exactly the new one (serial,
every resource, generated secrets), the next apply reports the lock with its id and the
``hookplane force-unlock ENV LOCK_ID`` command, and after that command an apply completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from hookplane.cli.main import run
from hookplane.state import tables as t
from hookplane.state.db import resolve_url
from hookplane.state.store import Store
from tests.hardening.figures import record, scale

COLLECTIONS = scale(2000, 5000)
TRIGGERS = 20
DELAYS = [0.0, 0.15, 0.3] if scale(0, 1) == 0 else [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8]


def _write(root: Path, version: int) -> None:
    env = root / "environments" / "preview"
    env.mkdir(parents=True, exist_ok=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    lines = ["collections:"]
    for i in range(COLLECTIONS):
        lines.append(f"  c{i:05d}:\n    description: v{version}\n"
                     "    schema: {type: object, properties: {n: {type: integer}}}")
    lines.append("triggers:")
    for i in range(TRIGGERS):  # new triggers every version: created with secrets, old deleted
        lines.append(f"  t{version}-{i}:\n    collection: c00000\n    events: [create]\n"
                     f"    url: https://hooks.example.com/{version}/{i}")
    (env / "main.yaml").write_text("\n".join(lines) + "\n")


def _state(url: str, root: Path) -> tuple[int, set[str], set[str], int]:
    """(serial, descriptions, trigger names, triggers holding a signing secret)."""
    with Store.open(url, root=root) as store:
        snapshot = store.snapshot("preview")
    descriptions = {str(r.spec.get("description")) for r in snapshot.resources.values()
                    if r.kind == "collections"}
    triggers = {r.name for r in snapshot.resources.values() if r.kind == "triggers"}
    secrets = sum(1 for r in snapshot.resources.values()
                  if r.kind == "triggers" and "signing_secret" in r.generated)
    return snapshot.serial, descriptions, triggers, secrets


def _expected(version: int) -> tuple[set[str], set[str], int]:
    return {f"v{version}"}, {f"t{version}-{i}" for i in range(TRIGGERS)}, TRIGGERS


def _lock_id(url: str) -> str | None:
    engine = create_engine(resolve_url(url, root=Path.cwd()))
    try:
        with engine.connect() as conn:
            return conn.scalar(select(t.locks.c.lock_id)
                               .where(t.locks.c.environment == "preview"))
    finally:
        engine.dispose()


def _cli(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = run(["-C", str(root), "--no-color", *args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_kill_9_during_apply_leaves_old_or_new_state(
        tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOOKPLANE_DATABASE_URL", database_url)
    root = tmp_path / "project"
    _write(root, 1)
    status, out = _cli(root, capsys, "apply", "preview", "--auto-approve")
    assert status == 0, out[-2000:]
    delays = DELAYS if database_url.startswith("sqlite") else DELAYS[1:2]
    outcomes = {"old": 0, "new": 0}
    lock_reported = 0
    for round_number, delay in enumerate(delays, start=2):
        before = _state(database_url, root)
        assert before[1:] == _expected(round_number - 1)
        _write(root, round_number)
        engine = create_engine(resolve_url(database_url, root=root))
        child = subprocess.Popen(
            [sys.executable, "-m", "hookplane.cli", "-C", str(root), "apply", "preview",
             "--auto-approve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ))
        try:
            deadline = time.monotonic() + 120
            lock = None
            with engine.connect() as conn:
                while lock is None and child.poll() is None and time.monotonic() < deadline:
                    lock = conn.scalar(select(t.locks.c.lock_id)
                                       .where(t.locks.c.environment == "preview"))
                    conn.rollback()
                    if lock is None:
                        time.sleep(0.002)
            assert lock is not None, "the apply finished before it could be caught holding " \
                                     "the lock"
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(timeout=30)
            engine.dispose()
        assert child.returncode == -signal.SIGKILL, "the apply ended before the kill"

        serial, descriptions, triggers, secrets = _state(database_url, root)
        if serial == before[0]:
            assert (descriptions, triggers, secrets) == _expected(round_number - 1)
            outcomes["old"] += 1
        else:
            assert serial == before[0] + 1
            assert (descriptions, triggers, secrets) == _expected(round_number)
            outcomes["new"] += 1

        # the lock is left behind and reported with the way out
        assert _lock_id(database_url) == lock
        status, out = _cli(root, capsys, "apply", "preview", "--auto-approve")
        assert status == 1 and "Error acquiring the state lock" in out, out[-2000:]
        assert lock in out and f"hookplane force-unlock preview {lock}" in out, out[-2000:]
        lock_reported += 1
        status, out = _cli(root, capsys, "force-unlock", "preview", lock)
        assert status == 0 and "successfully unlocked" in out, out
        status, out = _cli(root, capsys, "apply", "preview", "--auto-approve")
        assert status == 0, out[-2000:]
        assert _state(database_url, root)[1:] == _expected(round_number)
        with Store.open(database_url, root=root) as store:
            history = store.history("preview")
        assert history[0].action == "apply" and history[1].action == "force-unlock"

    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    record("faults", f"kill -9 of 'hookplane apply' holding the lock [{backend}]",
           rounds=len(delays), resources=COLLECTIONS + TRIGGERS,
           kill_delays_after_lock_seconds=delays, old_state=outcomes["old"],
           new_state=outcomes["new"], mixed_state=0, lock_reported=lock_reported,
           result="old or new state, never a mix; force-unlock then apply completes")
