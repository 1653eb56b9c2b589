"""``hookplane serve`` on a port that is taken: it exited 3 ("a bug") after starting its
workers; it binds first now and exits 1 with a message naming host, port and what to do,
before any worker runs — with one process and with several."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_taken_port_is_a_clear_error_before_anything_starts(
        tmp_path: Path, processes: str) -> None:
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "hookplane.cli", "-C", str(tmp_path), "serve", "--host",
             "127.0.0.1", "--port", str(port), "--processes", processes, "--log-level",
             "info"],
            env={**os.environ, "HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8"},
            capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert (f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; another "
            "process (perhaps another 'hookplane serve') listens there: stop it or choose "
            "another --port") in done.stderr
    assert "Traceback" not in done.stderr
    # nothing started: no server process, no configuration watcher, no workers
    assert "Started server process" not in done.stderr
    assert "Application startup" not in done.stderr
    assert "serving on" not in done.stderr
