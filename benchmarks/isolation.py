"""isolation: record-write latency while the trigger's receiver takes 5 s to answer.

``hookplane serve`` with a trigger on every record create; records are created through the
records API at a steady rate (open loop: request *i* is sent at *i*/rate seconds, latency is
counted from that moment, so a stall is not hidden by a waiting client). Two phases in the
same run, each on a fresh project: the trigger's receiver answers at once (the baseline),
then the receiver answers after 5 s (the dispatcher's slots all wait on it and the outbox
grows). Every write must answer 201. Run:

    python benchmarks/isolation.py [--rate 100] [--seconds 20] [--delay 5] [--repeat 1]

Target: ratio <= 1.2 (write p99 with the slow receiver over write p99 with the fast one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
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
    percentile,
    reveal_token,
    scratch,
    server_env,
    summarise,
    verdict,
    write_environment,
)

ENVIRONMENT = "bench"
TARGET_RATIO = 1.2


def project(url: str) -> str:
    return f"""\
collections:
  incidents:
    schema:
      type: object
      required: [title, severity]
      properties:
        title: {{type: string}}
        severity: {{type: string, enum: [p1, p2, p3]}}
        service: {{type: string}}
triggers:
  page-on-call:
    collection: incidents
    events: [create]
    url: {url}
    timeout: 30
api_keys:
  writer: {{scopes: [write]}}
"""


@dataclass(frozen=True)
class Phase:
    latencies_ms: list[float]
    failures: int
    queued_at_end: int

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p90(self) -> float:
        return percentile(self.latencies_ms, 90)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


async def paced_writes(base: str, token: str, *, rate: float, seconds: float,
                       offset: int = 0) -> tuple[list[float], int]:
    """Create ``rate * seconds`` records, request *i* at *i*/``rate`` s; latencies in ms."""
    path = f"/api/{ENVIRONMENT}/collections/incidents/records"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    count = int(rate * seconds)
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0,
                                 trust_env=False) as client:
        start = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            nonlocal failures
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body = json.dumps({"title": f"Disk full on db-{offset + i}",
                               "severity": ("p1", "p2", "p3")[i % 3],
                               "service": "storage"})
            try:
                response = await client.post(path, content=body, headers=headers)
                ok = response.status_code == 201
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - due) * 1000)
            failures += not ok

        await asyncio.gather(*(one(i) for i in range(count)))
    return latencies, failures


def phase(receiver_url: str, *, database: str, rate: float, seconds: float,
          warmup: float) -> Phase:
    from hookplane.state.runtime import RuntimeStore
    from hookplane.state.store import Store

    with scratch("isolation") as root, databases(database) as make_url:
        write_environment(root, ENVIRONMENT, project(receiver_url))
        url = make_url(root, "state")
        apply_project(root, url, ENVIRONMENT)
        token = reveal_token(root, url, ENVIRONMENT, "api_keys", "writer")
        with hookplane_serve(root, url, port=free_port(), log=root / "serve.log",
                             env=server_env()) as server:
            if warmup > 0:
                asyncio.run(paced_writes(server.url, token, rate=rate, seconds=warmup,
                                         offset=10**6))
            latencies, failures = asyncio.run(paced_writes(server.url, token, rate=rate,
                                                           seconds=seconds))
            with Store.open(url, root=root) as store:
                queued = RuntimeStore(store).outbox_depth()
        if failures:
            raise RuntimeError(f"{failures} of {len(latencies)} writes did not answer 201:\n"
                               + (root / "serve.log").read_text(errors="replace")[-2000:])
        return Phase(latencies, failures, queued)


@dataclass(frozen=True)
class Figures:
    fast: Phase
    slow: Phase

    @property
    def ratio(self) -> float:
        return self.slow.p99 / self.fast.p99 if self.fast.p99 else 0.0

    @property
    def ratio_p90(self) -> float:
        """Slow over fast at p90: a steadier figure for short runs (p99 of a few hundred
        writes is their second or third slowest, one scheduler hiccup on a busy machine)."""
        return self.slow.p90 / self.fast.p90 if self.fast.p90 else 0.0

    def row(self) -> dict[str, float]:
        return {"fast receiver write p50 ms": self.fast.p50,
                "fast receiver write p99 ms": self.fast.p99,
                "slow receiver write p50 ms": self.slow.p50,
                "slow receiver write p99 ms": self.slow.p99,
                "outbox left, slow receiver": self.slow.queued_at_end,
                "ratio (slow p99 / fast p99)": self.ratio,
                "ratio (slow p90 / fast p90)": self.ratio_p90}


def run(*, rate: float = 100.0, seconds: float = 20.0, delay: float = 5.0,
        database: str = "sqlite", warmup: float = 3.0) -> Figures:
    ensure_secret_key()
    with scratch("receiver") as tmp, helper_server("receiver", "--delay", str(delay),
                                                   port=free_port(),
                                                   log=tmp / "receiver.log") as receiver:
        fast = phase(receiver.url + "/hooks", database=database, rate=rate,
                     seconds=seconds, warmup=warmup)
        slow = phase(receiver.url + "/slow/hooks", database=database, rate=rate,
                     seconds=seconds, warmup=warmup)
    if slow.queued_at_end == 0:
        raise RuntimeError("the slow receiver did not hold deliveries back: the outbox was "
                           "empty at the end of the slow phase")
    return Figures(fast, slow)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--delay", type=float, default=5.0,
                        help="seconds the slow receiver takes to answer")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        figures = run(rate=args.rate, seconds=args.seconds, delay=args.delay,
                      database=args.database)
        print(f"run {i + 1}/{args.repeat} ({args.database}, {args.rate:g} writes/s for "
              f"{args.seconds:g} s): write p99 {figures.fast.p99:.1f} ms with an immediate "
              f"receiver, {figures.slow.p99:.1f} ms with a {args.delay:g} s receiver "
              f"({figures.slow.queued_at_end} deliveries still queued) | ratio "
              f"{figures.ratio:.2f}", flush=True)
        runs.append(figures)
    rows = [f.row() for f in runs]
    summarise(f"isolation on {args.database}", rows, list(rows[0]))
    ratios = sorted(f.ratio for f in runs)
    ratio = ratios[len(ratios) // 2]
    print(verdict("ratio", ratio, f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
