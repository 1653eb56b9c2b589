"""SQLite: one process's write transactions queue on a lock, not in SQLite's busy handler."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import hookplane.state.db as db
from hookplane.state import Store

ENV = "preview"


def test_a_writer_waits_for_another_thread_of_the_process_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no busy handler at all: a second writer reaching SQLite while the first holds the
    # write lock would fail at once with 'database is locked'
    monkeypatch.setattr(db, "BUSY_TIMEOUT_SECONDS", 0)
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path) as store:
        runtime = store.runtime()
        holding = threading.Event()
        order: list[str] = []

        def first() -> None:
            with store.database.transaction(write=True):
                holding.set()
                time.sleep(0.3)
                order.append("first committed")

        thread = threading.Thread(target=first)
        thread.start()
        assert holding.wait(5)
        record = runtime.create(ENV, "incidents", {"n": 1}, origin="api")
        order.append("second committed")
        thread.join()
        assert order == ["first committed", "second committed"]
        assert runtime.get(ENV, "incidents", record.id) is not None
