"""ingest: HMAC-signed upserts into a collection with a mapping and a schema, under wrk.

``wrk`` (64 connections, 30 s after a warm-up) against a real ``hookplane serve`` on
127.0.0.1; every request is a distinct body signed with the webhook's HMAC secret
(pre-signed in the wrk Lua script, which has no HMAC). The baseline, measured in the same
run with the same load, is a bare Litestar endpoint under the same uvicorn settings that
checks the HMAC and does one INSERT + commit per request into the same kind of database.
Any non-2xx answer or socket error fails the run (exit 1). Run:

    python benchmarks/ingest.py [--database sqlite|postgresql] [--seconds 30]
        [--connections 64] [--repeat 1]

Target: ratio >= 2.0 (Hookplane requests/s over the baseline's), Hookplane p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    WrkResult,
    apply_project,
    databases,
    ensure_secret_key,
    free_port,
    helper_server,
    hookplane_serve,
    read_secret,
    scratch,
    server_env,
    summarise,
    verdict,
    write_environment,
    wrk,
    wrk_script,
)

ENVIRONMENT = "bench"
WEBHOOK = "tickets-in"
PROJECT = """\
collections:
  tickets:
    description: Support tickets pushed by the helpdesk
    schema:
      type: object
      required: [title, severity]
      properties:
        title: {type: string, maxLength: 200}
        severity: {type: string, enum: [p1, p2, p3]}
        status: {type: string, enum: [open, pending, closed]}
        opened_at: {type: string, format: date-time}
        owner: {type: object, properties: {name: {type: string}}}
inbound_webhooks:
  tickets-in:
    collection: tickets
    auth: {type: hmac, header: X-Signature}
    action: {upsert: {key: id}}
    rate_limit: {requests: 100000000, per_seconds: 1}
    mapping:
      to_external: {title: subject, severity: priority, status: state, owner.name: assignee.name}
      value_maps: {severity: {p1: urgent, p2: high, p3: normal}}
      dates: {opened_at: {external: epoch_s}}
"""
TARGET_RATIO = 2.0
TARGET_P99_MS = 100.0


def bodies(count: int) -> list[bytes]:
    """``count`` distinct helpdesk payloads (``count`` ticket ids: the run is upserts)."""
    priorities = ("urgent", "high", "normal")
    states = ("open", "pending", "closed")
    return [json.dumps({"id": f"T-{i}", "subject": f"Printer {i} on fire",
                        "priority": priorities[i % 3], "state": states[i % 3],
                        "assignee": {"name": f"agent{i % 17}"},
                        "opened_at": 1_718_000_000 + i, "channel": "email"},
                       separators=(",", ":")).encode()
            for i in range(count)]


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Figures:
    database: str
    hookplane: WrkResult
    baseline: WrkResult

    @property
    def ratio(self) -> float:
        return self.hookplane.rps / self.baseline.rps if self.baseline.rps else 0.0

    def row(self) -> dict[str, float]:
        return {"hookplane requests/s": self.hookplane.rps,
                "hookplane p50 ms": self.hookplane.p50_ms,
                "hookplane p99 ms": self.hookplane.p99_ms,
                "baseline requests/s": self.baseline.rps,
                "baseline p50 ms": self.baseline.p50_ms,
                "baseline p99 ms": self.baseline.p99_ms,
                "ratio (hookplane / baseline)": self.ratio}


class LoadErrors(AssertionError):
    """A server answered non-2xx or dropped connections: the figures are not valid."""


def measure(url: str, script: Path, *, connections: int, seconds: float,
            warmup: float) -> WrkResult:
    if warmup > 0:  # creates every ticket once, warms the interpreter and the pool
        wrk(url, script, connections=connections, seconds=warmup)
    return wrk(url, script, connections=connections, seconds=seconds)


def run(*, database: str = "sqlite", seconds: float = 30.0, connections: int = 64,
        warmup: float = 5.0, distinct: int = 2000, on_server: object = None,
        processes: int = 1) -> Figures:
    """One run: baseline then Hookplane, same load; raises :class:`LoadErrors` on errors.
    Both run ``processes`` server processes on their port.

    ``on_server(pid, url)``, when given, is called with Hookplane's server before the load
    (the footprint benchmark samples its memory)."""
    ensure_secret_key()
    with scratch("ingest") as root, databases(database) as make_url:
        write_environment(root, ENVIRONMENT, PROJECT)
        state_url = make_url(root, "state")
        ids = apply_project(root, state_url, ENVIRONMENT)
        secret = read_secret(root, state_url, ENVIRONMENT, WEBHOOK)
        payloads = bodies(distinct)
        signatures = [sign(secret, b) for b in payloads]

        base_script = root / "baseline.lua"
        base_script.write_text(wrk_script("/ingest", payloads, signatures,
                                          header="X-Signature"))
        port = free_port()
        with helper_server("baseline", "--database-url", make_url(root, "baseline"),
                           "--secret", secret, "--root", str(root),
                           "--processes", str(processes), port=port,
                           log=root / "baseline.log", env=server_env()) as server:
            baseline = measure(server.url + "/ingest", base_script, connections=connections,
                               seconds=seconds, warmup=warmup)

        path = f"/inbound/{ENVIRONMENT}/{ids[f'inbound_webhooks.{WEBHOOK}']}/ingest"
        script = root / "hookplane.lua"
        script.write_text(wrk_script(path, payloads, signatures, header="X-Signature"))
        port = free_port()
        with hookplane_serve(root, state_url, port=port, log=root / "serve.log",
                             env=server_env(), processes=processes) as server:
            if callable(on_server):
                on_server(server.pid, server.url)
            hookplane = measure(server.url + path, script, connections=connections,
                                seconds=seconds, warmup=warmup)
        figures = Figures(database, hookplane, baseline)
        for name, result in (("hookplane", hookplane), ("baseline", baseline)):
            if result.errors:
                log = (root / ("serve.log" if name == "hookplane" else "baseline.log"))
                raise LoadErrors(f"{name}: {result.non_2xx} non-2xx answers and "
                                 f"{result.socket_errors} socket errors out of "
                                 f"{result.requests} requests ({asdict(result)}); server log:\n"
                                 + log.read_text(errors="replace")[-2000:])
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="server processes of both servers (default: one per core)")
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        try:
            figures = run(database=args.database, seconds=args.seconds,
                          connections=args.connections, warmup=args.warmup,
                          processes=args.processes)
        except LoadErrors as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        h, b = figures.hookplane, figures.baseline
        print(f"run {i + 1}/{args.repeat} ({args.database}, {args.processes} process(es), "
              f"wrk -t2 -c{args.connections} "
              f"-d{args.seconds:g}s): hookplane {h.rps:,.0f} req/s p50 {h.p50_ms:.1f} ms "
              f"p99 {h.p99_ms:.1f} ms errors {h.errors} | baseline {b.rps:,.0f} req/s "
              f"p50 {b.p50_ms:.1f} ms p99 {b.p99_ms:.1f} ms errors {b.errors} | "
              f"ratio {figures.ratio:.2f}x", flush=True)
        runs.append(figures)
    rows = [f.row() for f in runs]
    summarise(f"ingest on {args.database}", rows, list(rows[0]))
    ratios = sorted(f.ratio for f in runs)
    p99s = sorted(f.hookplane.p99_ms for f in runs)
    ratio, p99 = ratios[len(ratios) // 2], p99s[len(p99s) // 2]
    print(verdict("ratio", ratio, f">= {TARGET_RATIO}", ratio >= TARGET_RATIO))
    print(verdict("hookplane p99 ms", p99, f"<= {TARGET_P99_MS:g}", p99 <= TARGET_P99_MS))
    print("errors 0 (every answer 2xx, no socket error)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
