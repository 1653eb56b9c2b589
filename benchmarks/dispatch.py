"""dispatch: 20,000 outbox deliveries to a local receiver.

The outbox of a trigger is filled with 20,000 record-create deliveries (the rows and bodies
a record write queues, built by the runtime's own fan-out); then ``hookplane serve
--workers 8`` starts and sends them to a minimal ASGI receiver under uvicorn on 127.0.0.1 —
signing each, claiming rows under a lease, logging every attempt. The baseline, measured in
the same run against the same receiver, is a plain ``httpx.AsyncClient`` loop posting the
same bodies with the same concurrency (no signing, no bookkeeping). Deliveries/s are timed
at the receiver (first to last request) for both; every row must end ``delivered``. Run:

    python benchmarks/dispatch.py [--deliveries 20000] [--concurrency 8]
        [--database sqlite|postgresql] [--repeat 1]

Target: ratio >= 0.8 (Hookplane deliveries/s over the baseline's).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    apply_project,
    databases,
    ensure_secret_key,
    free_port,
    helper_server,
    hookplane_serve,
    scratch,
    server_env,
    summarise,
    verdict,
    write_environment,
)

ENVIRONMENT = "bench"
TARGET_RATIO = 0.8


def project(receiver: str) -> str:
    return f"""\
collections:
  orders:
    schema:
      type: object
      properties:
        number: {{type: integer}}
        customer: {{type: string}}
        total: {{type: number}}
        status: {{type: string}}
triggers:
  order-created:
    collection: orders
    events: [create]
    url: {receiver}/hooks/orders
    timeout: 10
    retry: {{attempts: 3, backoff: exponential, initial_seconds: 1, max_seconds: 30}}
"""


def fill_outbox(root: Path, database_url: str, count: int, *, batch: int = 1000) -> list[str]:
    """Queue ``count`` create deliveries as record writes do; returns their bodies."""
    from hookplane.runtime.fanout import outbox_for
    from hookplane.runtime.registry import Registry
    from hookplane.state.runtime import Record, RecordEvent, RuntimeStore
    from hookplane.state.store import Store

    bodies: list[str] = []
    with Store.open(database_url, root=root) as store:
        registry = Registry(store)
        registry.refresh()
        view = registry.get(ENVIRONMENT)
        assert view is not None
        runtime = RuntimeStore(store)
        now = datetime.now(UTC)
        stamp = now.isoformat(timespec="seconds").replace("+00:00", "Z")
        for start in range(0, count, batch):
            items = []
            for n in range(start, min(count, start + batch)):
                record = Record(id=f"rec_bench{n:012d}", collection="orders", external_id=None,
                                data={"number": n, "customer": f"customer {n % 97}",
                                      "total": round(n * 1.17, 2), "status": "open"},
                                origin="api", version=1, created_at=stamp, updated_at=stamp,
                                deleted_at=None)
                event = RecordEvent(ENVIRONMENT, "orders", "create", record, None, "api")
                items += outbox_for(view, event, now=now)
            runtime.enqueue_outbox(ENVIRONMENT, items)
            bodies += [str(item.payload["body"]) for item in items]
    if len(bodies) != count:
        raise RuntimeError(f"queued {len(bodies)} deliveries, expected {count}")
    return bodies


def delivered(database_url: str) -> tuple[int, int, int]:
    """(delivered rows, rows not finished, attempts logged)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            done = conn.scalar(text("SELECT count(*) FROM outbox WHERE status = 'delivered'"))
            left = conn.scalar(text("SELECT count(*) FROM outbox WHERE status IN "
                                    "('pending', 'in_flight')"))
            attempts = conn.scalar(text("SELECT count(*) FROM delivery_attempts"))
    finally:
        engine.dispose()
    return int(done or 0), int(left or 0), int(attempts or 0)


async def plain_loop(url: str, bodies: list[str], concurrency: int) -> int:
    """The baseline: ``concurrency`` tasks posting the bodies with one shared client."""
    items = iter(bodies)
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, trust_env=False, timeout=10.0) as client:

        async def worker() -> None:
            nonlocal failures
            for body in items:
                response = await client.post(url, content=body.encode(),
                                             headers={"Content-Type": "application/json"})
                if not response.is_success:
                    failures += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failures


def receiver_rate(url: str) -> tuple[int, float]:
    stats = httpx.get(url + "/stats", trust_env=False).json()
    seconds = (stats["last"] or 0) - (stats["first"] or 0)
    return stats["count"], (stats["count"] - 1) / seconds if seconds > 0 else 0.0


@dataclass(frozen=True)
class Figures:
    deliveries: int
    concurrency: int
    hookplane_rate: float
    baseline_rate: float
    hookplane_seconds: float
    baseline_seconds: float

    @property
    def ratio(self) -> float:
        return self.hookplane_rate / self.baseline_rate if self.baseline_rate else 0.0

    def row(self) -> dict[str, float]:
        return {"hookplane deliveries/s": self.hookplane_rate,
                "baseline deliveries/s": self.baseline_rate,
                "ratio (hookplane / baseline)": self.ratio}


def run(*, deliveries: int = 20_000, concurrency: int = 8, database: str = "sqlite",
        timeout: float = 600.0) -> Figures:
    ensure_secret_key()
    with scratch("dispatch") as root, databases(database) as make_url:
        receiver = helper_server("receiver", port=free_port(), log=root / "receiver.log")
        with receiver:
            write_environment(root, ENVIRONMENT, project(receiver.url))
            state_url = make_url(root, "state")
            apply_project(root, state_url, ENVIRONMENT)
            bodies = fill_outbox(root, state_url, deliveries)

            started = time.perf_counter()
            failures = asyncio.run(plain_loop(receiver.url + "/hooks/orders", bodies,
                                              concurrency))
            baseline_seconds = time.perf_counter() - started
            count, baseline_rate = receiver_rate(receiver.url)
            if failures or count != deliveries:
                raise RuntimeError(f"baseline: {failures} failures, receiver got {count}")
            httpx.post(receiver.url + "/reset", trust_env=False)

            started = time.perf_counter()
            with hookplane_serve(root, state_url, port=free_port(), log=root / "serve.log",
                                 env=server_env(), workers=concurrency):
                deadline = time.monotonic() + timeout
                while True:
                    done, left, attempts = delivered(state_url)
                    if not left:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{left} deliveries still queued after "
                                           f"{timeout:g}s")
                    time.sleep(0.25)
            hookplane_seconds = time.perf_counter() - started
            count, hookplane_rate = receiver_rate(receiver.url)
            if done != deliveries or attempts != deliveries:
                log = (root / "serve.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"hookplane: {done} of {deliveries} delivered with "
                                   f"{attempts} attempts (receiver got {count}):\n{log}")
    return Figures(deliveries, concurrency, hookplane_rate, baseline_rate,
                   hookplane_seconds, baseline_seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        figures = run(deliveries=args.deliveries, concurrency=args.concurrency,
                      database=args.database)
        print(f"run {i + 1}/{args.repeat} ({args.database}, {args.deliveries:,} deliveries, "
              f"concurrency {args.concurrency}): hookplane {figures.hookplane_rate:,.0f}/s "
              f"(serve start to drained {figures.hookplane_seconds:.1f} s) | baseline "
              f"{figures.baseline_rate:,.0f}/s ({figures.baseline_seconds:.1f} s) | "
              f"ratio {figures.ratio:.2f}x", flush=True)
        runs.append(figures)
    rows = [f.row() for f in runs]
    summarise(f"dispatch on {args.database}", rows, list(rows[0]))
    ratios = sorted(f.ratio for f in runs)
    ratio = ratios[len(ratios) // 2]
    print(verdict("ratio", ratio, f">= {TARGET_RATIO}", ratio >= TARGET_RATIO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
