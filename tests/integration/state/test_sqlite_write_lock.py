"""SQLite writers of several processes queue on a file lock in front of ``BEGIN IMMEDIATE``
(``hookplane serve --processes N`` runs N writers on one database)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookplane.state import Store
from hookplane.state.store import DatabaseUnavailable

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hookplane.state import Store
    url, root, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    with Store.open(url, root=root) as store:
        with store.database.write_lock:  # the file lock alone: no SQLite transaction is open
            print("held", flush=True)
            time.sleep(seconds)
        print("released", flush=True)
""")


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    address = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(address, root=tmp_path).close()  # schema and key file
    return address


def _hold(url: str, root: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen([sys.executable, "-c", HOLDER, url, str(root), str(seconds)],
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            yield holder
        finally:
            holder.kill()


def test_a_write_waits_for_another_process_holding_the_lock(url: str, tmp_path: Path) -> None:
    with Store.open(url, root=tmp_path) as store:
        runtime = store.runtime()
        for holder in _hold(url, tmp_path, 1.0):
            started = time.monotonic()
            runtime.create("preview", "incidents", {"n": 1}, origin="api")
            waited = time.monotonic() - started
            assert holder.wait(10) == 0
        # SQLite alone would have let it through at once: no transaction was open
        assert waited >= 0.8, waited
        assert (tmp_path / "state.db-writer.lock").exists()
        # reads never wait for the lock
        for _holder in _hold(url, tmp_path, 2.0):
            started = time.monotonic()
            assert len(runtime.list("preview", "incidents")[0]) == 1
            assert time.monotonic() - started < 1.0


def test_a_lock_held_too_long_makes_the_write_unavailable(url: str, tmp_path: Path) -> None:
    with Store.open(url, root=tmp_path) as store:
        store.database.write_lock._timeout = 0.3  # type: ignore[attr-defined]
        for _holder in _hold(url, tmp_path, 5.0):
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable, match="stayed locked"):
                store.runtime().create("preview", "incidents", {"n": 1}, origin="api")
            assert time.monotonic() - started < 3.0
        # released: writes go through again, and this thread's lock was not left held
        store.runtime().create("preview", "incidents", {"n": 2}, origin="api")


def test_closing_a_store_closes_its_lock_file(url: str, tmp_path: Path) -> None:
    """Every store that wrote opened the lock file: closing it must not leave the descriptor
    behind (CLI commands and tests open and close many stores in one process)."""
    def open_descriptors() -> int:
        return len(list(Path("/proc/self/fd").iterdir()))

    with Store.open(url, root=tmp_path) as store:  # warm: imports, the key file
        store.runtime().create("preview", "incidents", {"n": 0}, origin="api")
    before = open_descriptors()
    for n in range(20):
        with Store.open(url, root=tmp_path) as store:
            store.runtime().create("preview", "incidents", {"n": n}, origin="api")
    assert open_descriptors() - before < 3
