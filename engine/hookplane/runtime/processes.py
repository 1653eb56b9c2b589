"""Run the runtime: one process, or ``hookplane serve --processes N`` on one socket.

With N processes the parent binds the listening socket, then starts N server processes
(``spawn``: nothing of the parent's threads, connections or event loop is inherited), each a
complete runtime — ingest, records and admin APIs, dispatcher, job runner — accepting
connections from the shared socket. They coordinate through the state database only, as
replicas on several machines do: deliveries and jobs are claimed under leases, SQLite
writers queue on the database's file lock. Python runs one thread at a time per process, so
this is how the runtime uses more than one core.

The parent supervises: a server process that dies once it has built its runtime is replaced;
one that dies before (the database cannot be opened, the configuration cannot be loaded)
stops them all: a replacement would only fail again. SIGINT or SIGTERM stops every process
gracefully (in-flight requests get :data:`GRACEFUL_SECONDS` to finish), then the parent
exits.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookplane.errors import HookplaneError
from hookplane.runtime import logs

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger("hookplane.runtime.processes")

GRACEFUL_SECONDS = 10
"""Time in-flight requests get to finish on shutdown (then the process is killed)."""
BACKLOG = 2048


@dataclass(frozen=True)
class ServeSettings:
    """What ``hookplane serve`` was asked for (picklable: a server process gets a copy)."""

    host: str
    port: int
    root: Path
    database_url: str | None = None
    reload_interval: float = 1.0
    concurrency: int = 8
    lease_seconds: float = 60.0
    head_seconds: float = 10.0
    log_level: str = "info"
    log_format: logs.LogFormat = "text"


def serve(settings: ServeSettings, *, processes: int = 1) -> int:
    """Serve until interrupted; the exit status (0, or 1 when server processes failed)."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    if processes == 1:
        # try the address before anything starts: a port in use is a clear error (exit 1)
        # before the dispatcher and the job workers ever run. uvicorn then binds it itself:
        # serving on a socket bound here cost single-process ingest 5x (measured: 44 ms p50
        # under benchmarks/ingest.py against 7 ms)
        _bind(settings.host, settings.port).close()
        _run_server(settings, None, None)
        return 0
    logs.configure(level=settings.log_level, log_format=settings.log_format)
    return supervise(_run_server, (settings,), host=settings.host, port=settings.port,
                     processes=processes)


def build_app(settings: ServeSettings) -> Litestar:
    """The runtime of one server process, its long-lived objects frozen for the collector."""
    from hookplane.runtime.app import create_app

    app = create_app(database_url=settings.database_url, root=settings.root,
                     reload_interval=settings.reload_interval,
                     dispatch_concurrency=settings.concurrency,
                     lease_seconds=settings.lease_seconds)
    # everything built so far lives as long as the process: keep it out of the garbage
    # collector's full passes, which otherwise walk it all (about 80 ms for a bare runtime,
    # every request in flight waiting) every few thousand requests
    gc.collect()
    gc.freeze()
    return app


def _run_server(settings: ServeSettings, sock: socket.socket | None,
                built: Callable[[], object] | None) -> None:
    import uvicorn

    from hookplane.runtime.app import server_config

    logs.configure(level=settings.log_level, log_format=settings.log_format)
    app = build_app(settings)
    if built is not None:
        built()
    config = server_config(app, host=settings.host, port=settings.port,
                           log_level=settings.log_level, graceful_seconds=GRACEFUL_SECONDS,
                           head_seconds=settings.head_seconds)
    # uvicorn set up its own logging when its config was built: route it through ours
    logs.configure(level=settings.log_level, log_format=settings.log_format)
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)


def _server_process(target: Callable[..., None], args: tuple[Any, ...],
                    sock: socket.socket, built: EventType) -> None:
    """A server process's main: ``target(*args, sock, built.set)``."""
    try:
        target(*args, sock, built.set)
    except HookplaneError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"Error: {line}", file=sys.stderr, flush=True)
        sys.exit(1)
    except KeyboardInterrupt:  # the terminal's Ctrl-C reaches the whole process group
        pass


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    except OSError as exc:
        hint = ("another process (perhaps another 'hookplane serve') listens there: stop it "
                "or choose another --port" if exc.errno == errno.EADDRINUSE else
                "check --host and --port")
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise HookplaneError(f"cannot listen on {host}:{port}: {reason}; {hint}") from exc
    sock.set_inheritable(True)
    return sock


def supervise(target: Callable[..., None], args: tuple[Any, ...], *, host: str, port: int,
              processes: int) -> int:
    """Serve ``host:port`` with ``processes`` server processes until SIGINT/SIGTERM; 1 if
    they failed to start. Each runs ``target(*args, sock, built)``: it must serve on the
    listening socket ``sock`` and call ``built()`` once it is past what can fail at
    start-up. ``target`` and ``args`` must be picklable (a module-level function)."""
    sock = _bind(host, port)
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def stop(_signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    built: dict[int, EventType] = {}

    def start() -> BaseProcess:
        event = context.Event()
        process = context.Process(target=_server_process,
                                  args=(target, args, sock, event),
                                  name="hookplane-serve", daemon=False)
        process.start()
        built[process.pid or 0] = event
        return process

    status = 0
    children: list[BaseProcess] = []
    try:
        children = [start() for _ in range(processes)]
        log.info("serving on http://%s:%d with %d processes (pids %s)", host, port,
                 processes, ", ".join(str(c.pid) for c in children))
        while not stopping.wait(0.25):
            for index, child in enumerate(children):
                if child.is_alive():
                    continue
                if not built.pop(child.pid or 0).is_set():
                    log.error("server process %s exited with status %s before its runtime "
                              "was built; stopping the others", child.pid, child.exitcode)
                    status = 1
                    stopping.set()
                    break
                log.warning("server process %s exited with status %s; starting another",
                            child.pid, child.exitcode)
                children[index] = start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(children)
        sock.close()
    return status


def _stop_all(children: list[BaseProcess]) -> None:
    for child in children:
        if child.is_alive() and child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACEFUL_SECONDS + 5
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            log.warning("server process %s did not stop in time: killing it", child.pid)
            child.kill()
            child.join()
