"""Database fixtures: every state test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``HOOKPLANE_TEST_POSTGRES_URL`` (an admin URL on a server that lets us
CREATE DATABASE) or, failing that, from a throw-away cluster started here with the local
server binaries (``/usr/lib/postgresql/*/bin``); as root they run as user ``postgres``.
Each test gets a fresh database.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings

settings.register_profile("hookplane", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hookplane")
"""No per-example deadline: it is a wall-clock assertion, and on a busy 2-core machine a
property test failed with DeadlineExceeded (test_verify's random-input property, twice)."""

REQUIRE_TOOLS_VAR = "HOOKPLANE_TESTS_REQUIRE_TOOLS"
"""Set by ``.ci/run``: a test whose system tool is missing fails instead of skipping, so CI
runs everything while the README test command still passes on a machine with only Python."""


SLOW_TIERS = ("tests/hardening/", "tests/benchmarks/", "tests/packaging/",
              "tests/integration/cli/test_pre_commit.py")
"""The long tiers, marked ``slow``: the hardening suite, the benchmark guards, and the tests
that install Hookplane into fresh environments (the wheel, pre-commit). A run that names no
path and no ``-m`` (the README test command) leaves them out; ``-m slow`` runs just them,
naming a path runs what it names, and ``.ci/run`` runs both tiers."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    slow = []
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix()
        if where.startswith(SLOW_TIERS):
            item.add_marker(pytest.mark.slow)
            slow.append(item)
    default_run = not config.getoption("markexpr") and not config.getoption("keyword") \
        and all(Path(arg).resolve() in (root, root / "tests") for arg in config.args)
    if default_run and slow:
        chosen = set(map(id, slow))
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if id(item) not in chosen]


def missing_tool(reason: str) -> NoReturn:
    """Skip a test whose system tool (Chromium, wrk, Node.js, PostgreSQL) is missing, with
    ``reason`` saying what to install — or fail under ``HOOKPLANE_TESTS_REQUIRE_TOOLS=1``."""
    if os.environ.get(REQUIRE_TOOLS_VAR, "") not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRE_TOOLS_VAR} is set: every system tool must be here)")
    pytest.skip(reason)


_NO_SERVER = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin: "
    "install them (apt-get install -y postgresql) or set HOOKPLANE_TEST_POSTGRES_URL"
)


@dataclass(frozen=True)
class _Server:
    host: str
    port: int
    user: str
    password: str | None

    def url(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres", driver="postgresql"),
                             autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _start_cluster(tmp: Path, *, durable_commits: bool = False) -> tuple[_Server, Path, Path]:
    """A throw-away cluster. Commits return before their WAL is written unless
    ``durable_commits`` (``synchronous_commit=off``: fast, and safe for tests that never kill
    the server; one that stops it with ``-m immediate`` would lose the last commits)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = Path(found[-1]) if found else None
    if initdb is None:
        located = shutil.which("initdb")
        initdb = Path(located) if located else None
    if initdb is None:
        missing_tool(_NO_SERVER)
    pg_ctl = initdb.with_name("pg_ctl")
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            missing_tool("running as root and there is no 'postgres' user to run the server "
                         "as (apt-get install -y postgresql creates it)")
        if shutil.which("runuser") is None:
            missing_tool("running as root and 'runuser' is missing (util-linux)")
        os.chown(tmp, account.pw_uid, account.pw_gid)
    data = tmp / "data"
    subprocess.run(_as_postgres([str(initdb), "-D", str(data), "-U", "postgres",
                                 "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={tmp} "
               "-c fsync=off -c full_page_writes=off -c max_connections=200 "
               f"-c synchronous_commit={'on' if durable_commits else 'off'}")
    subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-o", options,
                                 "-l", str(tmp / "server.log"), "-w", "-t", "60", "start"]),
                   check=True, capture_output=True)
    return _Server("127.0.0.1", port, "postgres", None), pg_ctl, data


def _wait_ready(server: _Server) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(server.url("postgres", driver="postgresql"), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_Server]:
    """A PostgreSQL server for the whole session (skips if none can be had)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install psycopg)")
    given = os.environ.get("HOOKPLANE_TEST_POSTGRES_URL")
    if given:
        from sqlalchemy.engine import make_url

        parsed = make_url(given)
        server = _Server(parsed.host or "127.0.0.1", parsed.port or 5432,
                         parsed.username or "postgres", parsed.password)
        _wait_ready(server)
        yield server
        return
    tmp = Path(tempfile.mkdtemp(prefix="hookplane-pg-"))
    try:
        server, pg_ctl, data = _start_cluster(tmp)
        try:
            _wait_ready(server)
            yield server
        finally:
            subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-m", "fast", "-w",
                                         "stop"]), check=False, capture_output=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_databases = itertools.count(1)


class _Databases:
    """Empty databases on the session's server, created ahead in a thread: a CREATE DATABASE
    (about 0.2 s, nearly all of it the server's work) overlaps the test before instead of
    adding to each PostgreSQL test's set-up."""

    AHEAD = 2

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._ready: queue.Queue[str] = queue.Queue(maxsize=self.AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, daemon=True,
                                        name="hookplane-test-databases")
        self._thread.start()

    def _create(self) -> str:
        name = f"test_{os.getpid()}_{next(_databases)}"
        self._server.admin(f'CREATE DATABASE "{name}"')
        return name

    def _fill(self) -> None:
        while not self._stop.is_set():
            try:
                name = self._create()
            except Exception:  # take() creates its own and fails the test with the error
                return
            while True:
                try:
                    self._ready.put(name, timeout=0.2)
                    break
                except queue.Full:
                    if self._stop.is_set():
                        self.drop(name)
                        return

    def take(self) -> str:
        """A new empty database (its name); the caller drops it."""
        while True:
            try:
                return self._ready.get(timeout=0.5)
            except queue.Empty:
                if not self._thread.is_alive():
                    return self._create()

    def drop(self, name: str) -> None:
        # an old server without FORCE: leave it, the cluster is temporary
        with contextlib.suppress(Exception):
            self._server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        while True:
            try:
                self.drop(self._ready.get_nowait())
            except queue.Empty:
                return


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: _Server) -> Iterator[_Databases]:
    databases = _Databases(postgres_server)
    yield databases
    databases.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A URL for an empty state database: a SQLite file, or a fresh PostgreSQL database.

    SQLite runs with its key file (no HOOKPLANE_SECRET_KEY); PostgreSQL with a new
    HOOKPLANE_SECRET_KEY, as a shared server requires.
    """
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    if request.param == "sqlite":
        monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
        directory = tmp_path / "sqlite"
        directory.mkdir()
        yield f"sqlite:///{directory / 'state.db'}"
        return
    server: _Server = request.getfixturevalue("postgres_server")
    databases: _Databases = request.getfixturevalue("postgres_databases")
    name = databases.take()
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())
    try:
        yield server.url(name)
    finally:
        databases.drop(name)
