"""State files are private: the state directory 0700, the database, its -wal/-shm and the
secret key 0600 — whatever the umask, and tightened when an older version left them 0644 in
a 0755 directory. Anyone who can read the state directory could otherwise copy the
database (records, delivery history) and the key that decrypts its secrets."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookplane.state.store import Store
from tests.integration.state.conftest import ENV, apply_ops, trigger


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_state_is_private(tmp_path: Path, loose_umask: None,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    with Store.open(None, root=tmp_path) as store:
        apply_ops(store, trigger("notify"))  # writes: the WAL exists, the key is made
        state = tmp_path / ".hookplane"
        files = {p.name: _mode(p) for p in state.iterdir() if p.is_file()}
        assert _mode(state) == 0o700
        assert {"state.db", "state.db-wal", "state.db-shm", "secret.key"} <= set(files)
        assert {name: mode for name, mode in files.items() if mode != 0o600} == {}


def test_an_older_loose_state_is_tightened(tmp_path: Path, loose_umask: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    with Store.open(None, root=tmp_path) as store:
        apply_ops(store, trigger("notify"))
    state = tmp_path / ".hookplane"
    state.chmod(0o755)
    for path in state.iterdir():
        if path.name.startswith("state.db"):
            path.chmod(0o644)
    with Store.open(None, root=tmp_path) as store:
        assert store.snapshot(ENV).serial >= 1
        assert _mode(state) == 0o700
        assert {p.name: _mode(p) for p in state.iterdir()
                if p.name.startswith("state.db") and _mode(p) != 0o600} == {}


def test_a_database_url_of_ones_own_gets_a_private_file(tmp_path: Path,
                                                        loose_umask: None) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with Store.open(url, root=tmp_path) as store:
        apply_ops(store, trigger("notify"))
    assert _mode(tmp_path / "elsewhere.db") == 0o600
