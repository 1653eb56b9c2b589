"""``hookplane serve --processes N``: N complete runtimes on one port and one SQLite
database, supervised by the parent."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import Peer, apply_environment, free_port, wait_for

WRITES = 120


def _serve(root: Path, url: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8"}
    with (root / "serve.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "hookplane.cli", "-C", str(root), "serve", "--port",
             str(port), "--database-url", url, "--reload-interval", "0.2",
             "--log-level", "warning", *extra],
            env=env, stdout=log, stderr=log)


def _children(pid: int) -> set[int]:
    """The server processes of ``pid`` (not multiprocessing's resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str, Peer]:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    receiver = Peer()
    receiver.routes["/hook"] = lambda _seen: (200, {"ok": True})
    receiver.start()
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(f"""\
        collections:
          events: {{schema: {{type: object, properties: {{n: {{type: integer}}}}}}}}
        triggers:
          out:
            collection: events
            events: [create]
            url: {receiver.url}/hook
        api_keys:
          writer: {{scopes: [write]}}
        """))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    with Store.open(url, root=tmp_path) as store:
        token = store.reveal_token("preview", "api_keys", "writer")
    yield tmp_path, url, token, receiver
    receiver.stop()


def test_processes_share_the_port_and_deliver_each_record_once(
        project: tuple[Path, str, str, Peer]) -> None:
    root, url, token, receiver = project
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(root, url, port, "--processes", "2")
    try:
        wait_for(lambda: _ready(base), timeout=60)
        children = wait_for(lambda: (found := _children(server.pid)) and len(found) == 2
                            and found, timeout=30)

        def write(n: int) -> int:
            # a new connection each time: the kernel hands them to either process
            with httpx.Client(base_url=base, timeout=30) as http:
                return http.post("/api/preview/collections/events/records", json={"n": n},
                                 headers={"Authorization": f"Bearer {token}"}).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(write, range(WRITES))) == {201}

        def delivered() -> bool:
            with Store.open(url, root=root) as store:
                return RuntimeStore(store).outbox_depth() == 0

        wait_for(lambda: len({s.headers["webhook-id"] for s in receiver.seen}) == WRITES,
                 timeout=60)
        wait_for(delivered, timeout=30)
        counts = Counter(s.headers["webhook-id"] for s in receiver.seen)
        # two dispatchers claim from one outbox under leases: nothing is sent twice
        assert set(counts.values()) == {1}

        # a server process that dies is replaced; the other one serves meanwhile
        victim = min(children)
        os.kill(victim, signal.SIGKILL)
        replaced = wait_for(lambda: (found := _children(server.pid)) and len(found) == 2
                            and victim not in found and found, timeout=60)
        assert len(replaced & children) == 1
        wait_for(lambda: _ready(base), timeout=60)
        assert write(WRITES) == 201
    finally:
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=30)
    assert status == 0
    assert not _children(server.pid)
    log = (root / "serve.log").read_text()
    assert "exited with status -9; starting another" in log


def test_a_database_that_cannot_be_opened_fails_once(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    port = free_port()
    (tmp_path / "a-file").write_text("not a directory")
    missing = f"sqlite:///{tmp_path / 'a-file' / 'state.db'}"
    started = time.monotonic()
    server = _serve(tmp_path, missing, port, "--processes", "3")
    try:
        assert server.wait(timeout=60) == 1
    finally:
        if server.poll() is None:
            server.kill()
    assert time.monotonic() - started < 60
    log = (tmp_path / "serve.log").read_text()
    assert "Error: cannot use key file" in log and "Traceback" not in log


def test_server_processes_failing_to_start_stop_the_supervisor(
        tmp_path: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A server process that dies before its runtime is built is not restarted in a loop:
    the supervisor stops the others and returns 1. (Called directly: the CLI's check of the
    database in the parent would catch this database first.)"""
    from hookplane.runtime.processes import ServeSettings, serve

    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)  # the key file fails first
    (tmp_path / "a-file").write_text("not a directory")
    missing = f"sqlite:///{tmp_path / 'a-file' / 'state.db'}"
    settings = ServeSettings(host="127.0.0.1", port=free_port(), root=tmp_path,
                             database_url=missing, log_level="warning")
    root_logger = logging.getLogger()
    handlers, level = list(root_logger.handlers), root_logger.level
    started = time.monotonic()
    try:
        assert serve(settings, processes=2) == 1
    finally:  # serve() configured logging for a server: give pytest's back
        root_logger.handlers[:] = handlers
        root_logger.setLevel(level)
    assert time.monotonic() - started < 60
    err = capfd.readouterr().err
    assert "before its runtime was built; stopping the others" in err
    assert "Error: cannot use key file" in err and "Traceback" not in err


def test_a_server_process_freezes_its_runtime_for_the_garbage_collector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the runtime builds at start lives as long as the process: frozen, a full
    collection no longer walks it (about 80 ms per pass, every request waiting)."""
    import gc

    from hookplane.runtime.processes import ServeSettings, build_app

    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    before = gc.get_freeze_count()
    try:
        build_app(ServeSettings(host="127.0.0.1", port=free_port(), root=tmp_path,
                                database_url=f"sqlite:///{tmp_path / 'state.db'}"))
        # the runtime's objects (tens of thousands: Litestar, SQLAlchemy, the registry)
        assert gc.get_freeze_count() - before > 10_000
    finally:
        gc.unfreeze()
