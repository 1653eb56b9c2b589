"""A state database per module, on SQLite or on the session's PostgreSQL server."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

_count = itertools.count(1)


@contextlib.contextmanager
def module_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """``request.param`` is ``sqlite`` or ``postgresql``; yields an empty database URL."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    try:
        if request.param == "sqlite":
            monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
            yield f"sqlite:///{directory / 'state.db'}"
            return
        server = request.getfixturevalue("postgres_server")
        name = f"hardening_{os.getpid()}_{next(_count)}"
        server.admin(f'CREATE DATABASE "{name}"')
        monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())
        try:
            yield server.url(name)
        finally:
            with contextlib.suppress(Exception):
                server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        monkeypatch.undo()


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
