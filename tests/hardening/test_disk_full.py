"""``/readyz`` reflects write health: on a full disk it said "ready" while every write
failed. The state lives on a real 2 MiB tmpfs; the test fills it, and an ingest is refused
(503, nothing lost: the sender retries), ``/readyz`` answers 503 "degraded" naming why —
also when nothing had tried to write yet (a probe write) — and both recover once there is
room again. Needs root to mount the tmpfs (as in CI)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from hookplane.runtime.app import create_app
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client, wait_for


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"needs root to mount a small tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write zeros until the file system has no room left."""
    with contextlib.suppress(OSError), path.open("wb", buffering=0) as filler:
        while True:
            filler.write(b"\0" * 65536)


def test_readyz_says_degraded_while_writes_fail(small_disk: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    root = tmp_path / "project"
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent("""\
        collections:
          notes: {schema: {type: object}}
        inbound_webhooks:
          notes-in: {collection: notes, auth: {type: static_header, header: X-Key}}
        """))
    url = f"sqlite:///{small_disk / 'state.db'}"
    apply_environment(root, url, "preview", {})
    with Store.open(url, root=root) as store:
        hook = next(r.id for r in store.snapshot("preview").resources.values()
                    if r.kind == "inbound_webhooks")
        key = store.read_secret("preview", "inbound_webhooks", "notes-in", "hmac_secret")
    server = AppServer(create_app(database_url=url, root=root, run_jobs=False)).start()
    http = client(server.url)
    ingest = f"/inbound/preview/{hook}/ingest"
    headers = {"Content-Type": "application/json", "X-Key": key}
    filler = small_disk / "filler"
    try:
        assert http.get("/readyz").status_code == 200
        assert http.post(ingest, content=b'{"n": 1}', headers=headers).status_code == 201
        _fill(filler)
        body = json.dumps({"n": 2, "pad": "x" * 200_000}).encode()
        refused = http.post(ingest, content=body, headers=headers)
        assert refused.status_code == 503, refused.text
        ready = http.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.json()["status"] == "degraded"
        assert "writes to the state database fail" in ready.json()["error"]
        filler.unlink()
        assert http.post(ingest, content=body, headers=headers).status_code == 201
        assert http.get("/readyz").json()["status"] == "ready"
    finally:
        http.close()
        server.stop()


def test_an_idle_server_probes_its_writes(small_disk: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    root = tmp_path / "project"
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text("collections:\n  notes: {schema: {type: object}}\n")
    url = f"sqlite:///{small_disk / 'state.db'}"
    apply_environment(root, url, "preview", {})
    with Store.open(url, root=root) as store:
        assert store.write_health(probe_after=0) is None  # a probe write that works
        _fill(small_disk / "filler")
        for _ in range(3):  # the probe runs at most every 5 s: the first one decides
            failing = store.write_health(probe_after=0)
            if failing:
                break
        else:
            failing = wait_for(lambda: store.write_health(probe_after=0), timeout=12)
        assert failing is not None and "full" in failing.lower(), failing
