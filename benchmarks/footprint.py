"""footprint: memory of ``hookplane serve`` with 10,000 resources applied, idle and under load.

The 10,000 resources of ``plan_10k`` (collections, sources, triggers, inbound webhooks) plus
the ingest benchmark's webhook are applied; ``hookplane serve`` starts; its resident memory
(``VmRSS`` of ``/proc/PID/status``) is read once it is ready and idle, then sampled every
0.5 s under the ingest benchmark's ``wrk`` load, and its peak (``VmHWM``) read at the end.
The baseline, measured the same way in the same run, is the ingest benchmark's bare
Litestar endpoint (same uvicorn settings, the same load). Run:

    python benchmarks/footprint.py [--resources 10000] [--seconds 30] [--repeat 1]

Target: Hookplane's peak RSS under load <= 200 MB (ratio: Hookplane peak / baseline peak).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import ingest
from benchmarks._common import (
    Server,
    apply_project,
    databases,
    ensure_secret_key,
    free_port,
    helper_server,
    hookplane_serve,
    read_secret,
    rss_mb,
    scratch,
    server_env,
    summarise,
    verdict,
    wrk,
    wrk_script,
)
from benchmarks.plan_10k import ENVIRON, generate

TARGET_MB = 200.0


@dataclass(frozen=True)
class Memory:
    idle_mb: float
    loaded_mb: float
    """The highest VmRSS sampled under load."""
    peak_mb: float
    """VmHWM at the end: the process's high-water mark."""
    requests_per_second: float


def sample(server: Server, load: Callable[[], float], *, settle: float) -> Memory:
    time.sleep(settle)
    idle, _ = rss_mb(server.pid)
    highest = idle
    stop = threading.Event()

    def watch() -> None:
        nonlocal highest
        while not stop.wait(0.5):
            highest = max(highest, rss_mb(server.pid)[0])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        rps = load()
    finally:
        stop.set()
        watcher.join()
    current, peak = rss_mb(server.pid)
    return Memory(idle, max(highest, current), peak, rps)


@dataclass(frozen=True)
class Figures:
    resources: int
    hookplane: Memory
    baseline: Memory

    @property
    def ratio(self) -> float:
        return self.hookplane.peak_mb / self.baseline.peak_mb

    def row(self) -> dict[str, float]:
        return {"hookplane idle RSS MB": self.hookplane.idle_mb,
                "hookplane RSS under load MB": self.hookplane.loaded_mb,
                "hookplane peak (VmHWM) MB": self.hookplane.peak_mb,
                "baseline idle RSS MB": self.baseline.idle_mb,
                "baseline peak (VmHWM) MB": self.baseline.peak_mb,
                "ratio (hookplane peak / baseline)": self.ratio}


def run(*, resources: int = 10_000, seconds: float = 30.0, connections: int = 64,
        database: str = "sqlite", settle: float = 3.0) -> Figures:
    ensure_secret_key()
    with scratch("footprint") as root, databases(database) as make_url:
        generate(root, resources, max(1, min(20, resources // 500)))
        (root / "environments" / "bench" / "ingest.yaml").write_text(ingest.PROJECT)
        url = make_url(root, "state")
        ids = apply_project(root, url, "bench", ENVIRON)
        secret = read_secret(root, url, "bench", ingest.WEBHOOK)
        payloads = ingest.bodies(2000)
        signatures = [ingest.sign(secret, body) for body in payloads]

        def load(target: str, script: Path) -> Callable[[], float]:
            def go() -> float:
                result = wrk(target, script, connections=connections, seconds=seconds)
                if result.errors:
                    raise RuntimeError(f"{result.errors} errors under load at {target}")
                return result.rps
            return go

        base_script = root / "baseline.lua"
        base_script.write_text(wrk_script("/ingest", payloads, signatures,
                                          header="X-Signature"))
        with helper_server("baseline", "--database-url", make_url(root, "baseline"),
                           "--secret", secret, "--root", str(root), port=free_port(),
                           log=root / "baseline.log", env=server_env()) as server:
            baseline = sample(server, load(server.url + "/ingest", base_script),
                              settle=settle)

        path = f"/inbound/bench/{ids[f'inbound_webhooks.{ingest.WEBHOOK}']}/ingest"
        script = root / "hookplane.lua"
        script.write_text(wrk_script(path, payloads, signatures, header="X-Signature"))
        with hookplane_serve(root, url, port=free_port(), log=root / "serve.log",
                             env=server_env(**ENVIRON)) as server:
            hookplane = sample(server, load(server.url + path, script), settle=settle)
    return Figures(resources, hookplane, baseline)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        figures = run(resources=args.resources, seconds=args.seconds,
                      connections=args.connections, database=args.database)
        h, b = figures.hookplane, figures.baseline
        print(f"run {i + 1}/{args.repeat} ({args.resources:,} resources, {args.database}): "
              f"hookplane idle {h.idle_mb:.0f} MB, under load {h.loaded_mb:.0f} MB, peak "
              f"{h.peak_mb:.0f} MB ({h.requests_per_second:,.0f} req/s) | baseline idle "
              f"{b.idle_mb:.0f} MB, peak {b.peak_mb:.0f} MB | ratio {figures.ratio:.2f}",
              flush=True)
        runs.append(figures)
    rows = [f.row() for f in runs]
    summarise(f"footprint, {args.resources:,} resources", rows, list(rows[0]))
    peaks = sorted(f.hookplane.peak_mb for f in runs)
    peak = peaks[len(peaks) // 2]
    print(verdict("hookplane peak MB", peak, f"<= {TARGET_MB:g}", peak <= TARGET_MB))
    return 0


if __name__ == "__main__":
    sys.exit(main())
