"""Helpers shared by the benchmark scripts: processes on 127.0.0.1 (stopped by PID), projects
in temporary directories, a throw-away PostgreSQL cluster, ``wrk`` runs, RSS from ``/proc``,
and median/min/max summaries.

Nothing here is part of Hookplane; the scripts and ``tests/benchmarks`` import it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
SERVERS = Path(__file__).resolve().with_name("_servers.py")
HOOKPLANE = ("-c", "from hookplane.cli.main import main; main()")
"""``python -c …``: the ``hookplane`` console script, run by this interpreter (so its PID is
the server's PID, without a launcher in between)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- processes


class Server:
    """A server process on 127.0.0.1: started, waited for, stopped by its PID."""

    def __init__(self, argv: Sequence[str], *, port: int, log: Path,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 ready_path: str = "/healthz") -> None:
        self.argv = list(argv)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> Server:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                            env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.process.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.ready_path, timeout=2,
                             trust_env=False).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on port {self.port} not ready in {timeout:g}s:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.1)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> Server:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def hookplane_serve(root: Path, database_url: str, *, port: int, log: Path,
                    env: Mapping[str, str], workers: int = 8, processes: int = 1) -> Server:
    """``hookplane serve`` as an operator runs it (access log off: ``--log-level warning``)."""
    argv = [sys.executable, *HOOKPLANE, "-C", str(root), "serve", "--host", "127.0.0.1",
            "--port", str(port), "--database-url", database_url, "--log-level", "warning",
            "--workers", str(workers), "--processes", str(processes)]
    return Server(argv, port=port, log=log, env=env, cwd=root, ready_path="/readyz")


def helper_server(kind: str, *args: str, port: int, log: Path,
                  env: Mapping[str, str] | None = None) -> Server:
    """One of ``benchmarks/_servers.py``'s servers (baseline endpoint, receiver)."""
    argv = [sys.executable, str(SERVERS), kind, "--port", str(port), *args]
    return Server(argv, port=port, log=log, env=env)


def server_env(**extra: str) -> dict[str, str]:
    """The environment of a server process: ours, deliveries allowed to 127.0.0.1."""
    env = dict(os.environ)
    env["HOOKPLANE_ALLOW_NETWORKS"] = "127.0.0.0/8"
    env.update(extra)
    return env


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB (1e6 bytes), from ``/proc/PID/status``."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]


# --------------------------------------------------------------------------- projects


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"hookplane-bench-{prefix}-") as name:
        yield Path(name)


def write_environment(root: Path, environment: str, yaml_text: str) -> None:
    env = root / "environments" / environment
    env.mkdir(parents=True, exist_ok=True)
    (env / "environment.yaml").write_text(f"name: {environment}\nkind: preview\n")
    (env / "main.yaml").write_text(yaml_text)


def apply_project(root: Path, database_url: str, environment: str,
                  environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """plan + apply, as ``hookplane apply --auto-approve`` does; returns {address: id}."""
    from hookplane.apply import apply
    from hookplane.config import load_environment
    from hookplane.plan import diff
    from hookplane.state.store import Store

    values = dict(environ or {})
    with Store.open(database_url, root=root) as store:
        config = load_environment(root, environment)
        plan = diff(config, store.snapshot(environment), environ=values,
                    fingerprint=store.fingerprint)
        apply(plan, store, environ=values, actor="benchmark")
        return {f"{r.kind}.{r.name}": r.id
                for r in store.snapshot(environment).resources.values()}


def read_secret(root: Path, database_url: str, environment: str, name: str) -> str:
    from hookplane.state.store import Store

    with Store.open(database_url, root=root) as store:
        return store.read_secret(environment, "inbound_webhooks", name, "hmac_secret")


def reveal_token(root: Path, database_url: str, environment: str, kind: str,
                 name: str) -> str:
    from hookplane.state.store import Store

    with Store.open(database_url, root=root) as store:
        return store.reveal_token(environment, kind, name)


def ensure_secret_key() -> None:
    """One HOOKPLANE_SECRET_KEY for this process and the servers it starts (PostgreSQL needs
    one; with SQLite it saves a key file per project)."""
    os.environ.setdefault("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())


# --------------------------------------------------------------------------- databases


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (the server binaries of
    ``/usr/lib/postgresql/*/bin``, as user ``postgres`` when we are root), or the server of
    ``HOOKPLANE_BENCH_POSTGRES_URL`` (an admin URL that may CREATE DATABASE)."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.user = "postgres"
        self.password: str | None = None
        self._tmp: Path | None = None
        self._pg_ctl: str | None = None
        self._count = 0

    def url(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

    def start(self) -> Postgres:
        given = os.environ.get("HOOKPLANE_BENCH_POSTGRES_URL")
        if given:
            from sqlalchemy.engine import make_url

            parsed = make_url(given)
            self.host, self.port = parsed.host or "127.0.0.1", parsed.port or 5432
            self.user, self.password = parsed.username or "postgres", parsed.password
            return self
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = found[-1] if found else shutil.which("initdb")
        if initdb is None:
            raise RuntimeError("PostgreSQL server binaries not found under "
                               "/usr/lib/postgresql/*/bin: apt-get install -y postgresql, or "
                               "set HOOKPLANE_BENCH_POSTGRES_URL")
        self._pg_ctl = str(Path(initdb).with_name("pg_ctl"))
        self._tmp = Path(tempfile.mkdtemp(prefix="hookplane-bench-pg-"))
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self._tmp, account.pw_uid, account.pw_gid)
        data = self._tmp / "data"
        subprocess.run(_as_postgres([initdb, "-D", str(data), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True)
        self.port = free_port()
        # durable commits (fsync on, the defaults) so a commit costs what it costs in
        # production; only the connection limit is raised
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self._tmp} -c max_connections=200")
        subprocess.run(_as_postgres([self._pg_ctl, "-D", str(data), "-o", options,
                                     "-l", str(self._tmp / "server.log"), "-w", "-t", "60",
                                     "start"]), check=True, capture_output=True)
        return self

    def create_database(self, prefix: str) -> str:
        import psycopg

        self._count += 1
        name = f"bench_{prefix}_{os.getpid()}_{self._count}"
        with psycopg.connect(self.url("postgres", driver="postgresql"),
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def stop(self) -> None:
        if self._tmp is None or self._pg_ctl is None:
            return
        subprocess.run(_as_postgres([self._pg_ctl, "-D", str(self._tmp / "data"), "-m", "fast",
                                     "-w", "stop"]), check=False, capture_output=True)
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = None

    def __enter__(self) -> Postgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def databases(kind: str) -> Iterator[Callable[[Path, str], str]]:
    """A factory of empty database URLs: ``make(directory, prefix)``."""
    if kind == "sqlite":
        yield lambda directory, prefix: f"sqlite:///{directory / (prefix + '.db')}"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}: sqlite or postgresql")
    with Postgres() as server:
        yield lambda _directory, prefix: server.create_database(prefix)


# --------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


WRK_LUA = """
-- generated by benchmarks/_common.py: cycles through pre-signed requests, counts non-2xx
local method = %(method)s
local path = %(path)s
local bodies = {%(bodies)s}
local signatures = {%(signatures)s}
local header_name = %(header)s
local extra = {%(extra)s}
local requests = {}
local i = 0
non2xx = 0
local threads = {}
local started = 0

function setup(thread)
  thread:set("offset", started)
  started = started + math.floor(#bodies / 2)
  table.insert(threads, thread)
end

function init(args)
  for k = 1, #bodies do
    local headers = {["Content-Type"] = "application/json"}
    for name, value in pairs(extra) do headers[name] = value end
    if header_name ~= "" then headers[header_name] = signatures[k] end
    requests[k] = wrk.format(method, path, headers, bodies[k])
  end
  i = offset or 0
end

function request()
  i = i %% #requests + 1
  return requests[i]
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + (thread:get("non2xx") or 0) end
  local e = summary.errors
  io.write(string.format(
    'HOOKPLANE_WRK {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "socket": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_script(path: str, bodies: Sequence[bytes], signatures: Sequence[str] | None = None,
               *, header: str = "", method: str = "POST",
               extra_headers: Mapping[str, str] | None = None) -> str:
    """A wrk Lua script sending ``bodies`` in turn (each with its signature in ``header``)."""
    signatures = signatures or [""] * len(bodies)
    return WRK_LUA % {
        "method": lua_string(method), "path": lua_string(path),
        "bodies": ",".join(lua_string(b.decode()) for b in bodies),
        "signatures": ",".join(lua_string(s) for s in signatures),
        "header": lua_string(header),
        "extra": ",".join(f"[{lua_string(k)}]={lua_string(v)}"
                          for k, v in (extra_headers or {}).items()),
    }


def wrk(url: str, script: Path, *, connections: int, seconds: float, threads: int = 2,
        timeout: float = 10.0) -> WrkResult:
    """Run ``wrk`` (Debian's) against ``url`` with ``script``; its figures from ``done()``."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--timeout", f"{timeout:g}s", "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120,
                          check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("HOOKPLANE_WRK ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("HOOKPLANE_WRK "))
    return WrkResult(requests=data["requests"], seconds=data["duration_us"] / 1e6,
                     non_2xx=data["non2xx"], socket_errors=data["socket"],
                     p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
                     max_ms=data["max_us"] / 1000)


# --------------------------------------------------------------------------- summaries


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: Sequence[float]) -> str:
    """``median (min–max)`` of several runs; just the value for one."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def summarise(title: str, runs: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """Print median (min–max) of ``keys`` over ``runs``."""
    print(f"{title}: median (min–max) of {len(runs)} run(s)")
    for key in keys:
        print(f"  {key:<34} {spread([float(r[key]) for r in runs])}")


def verdict(name: str, value: float, target: str, ok: bool) -> str:
    return f"{name} {value:.2f} — target {target}: {'MET' if ok else 'MISSED'}"
