"""dead_endpoint: healthy triggers' delivery latency while another trigger's endpoint is dead.

``hookplane serve`` with three triggers on every record create, each to a healthy receiver
path that answers at once; records are created through the records API at a steady rate
(open loop). Delivery latency is measured at the receiver: from the moment the client wrote
the record (its ``sent`` field) to the moment the delivery arrived. Two phases in the same
run, each on a fresh project with the same four triggers: a fourth trigger to a partner's
endpoint, with the circuit breaker Hookplane users would configure (open after 5 failures, a
probe every 5 s, attempts time out after 2 s), whose endpoint answers at once in the baseline
and never answers in the second phase. The first ``--warmup`` seconds of each phase are
written but not counted. Run:

    python benchmarks/dead_endpoint.py [--rate 40] [--seconds 20] [--warmup 5] [--repeat 1]

Target: ratio <= 1.2 (healthy delivery p99 with the dead endpoint over p99 without it).
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
HEALTHY = ("audit-log", "search-index", "chat")


def project(receiver: str, *, dead: bool) -> str:
    triggers = "".join(f"""\
  {name}:
    collection: incidents
    events: [create]
    url: {receiver}/lat/{name}
""" for name in HEALTHY)
    # the fourth trigger is the same in both phases but for its endpoint's health, so the
    # ratio shows what a dead endpoint costs the others, not what a fourth trigger costs
    partner = "/slow/dead" if dead else "/partner"
    triggers += f"""\
  partner:
    collection: incidents
    events: [create]
    url: {receiver}{partner}
    timeout: 2
    circuit_breaker: {{failures: 5, cooldown: 5s}}
"""
    return f"""\
collections:
  incidents:
    schema:
      type: object
      required: [title, sent]
      properties:
        title: {{type: string}}
        sent: {{type: number}}
triggers:
{triggers}api_keys:
  writer: {{scopes: [write]}}
"""


async def paced_writes(base: str, token: str, *, rate: float, seconds: float) -> int:
    """Create ``rate * seconds`` records, request *i* at *i*/``rate`` s, each carrying the
    wall-clock time it was due (``sent``); how many did not answer 201."""
    path = f"/api/{ENVIRONMENT}/collections/incidents/records"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    count = int(rate * seconds)
    failures = 0
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0,
                                 trust_env=False) as client:
        start = time.perf_counter() + 0.05
        offset = time.time() - time.perf_counter()

        async def one(i: int) -> None:
            nonlocal failures
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body = json.dumps({"title": f"incident {i}", "sent": due + offset})
            try:
                response = await client.post(path, content=body, headers=headers)
                failures += response.status_code != 201
            except httpx.HTTPError:
                failures += 1

        await asyncio.gather(*(one(i) for i in range(count)))
    return failures


@dataclass(frozen=True)
class Phase:
    latencies_ms: list[float]
    expected: int

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


def phase(receiver: str, *, dead: bool, database: str, rate: float, seconds: float,
          warmup: float) -> Phase:
    httpx.post(receiver + "/reset", trust_env=False)
    with scratch("dead-endpoint") as root, databases(database) as make_url:
        write_environment(root, ENVIRONMENT, project(receiver, dead=dead))
        url = make_url(root, "state")
        apply_project(root, url, ENVIRONMENT)
        token = reveal_token(root, url, ENVIRONMENT, "api_keys", "writer")
        with hookplane_serve(root, url, port=free_port(), log=root / "serve.log",
                             env=server_env()) as server:
            counted_from = time.time() + warmup
            failures = asyncio.run(paced_writes(server.url, token, rate=rate,
                                                seconds=warmup + seconds))
            if failures:
                raise RuntimeError(f"{failures} writes did not answer 201:\n"
                                   + (root / "serve.log").read_text(errors="replace")[-2000:])
            expected = int(rate * (warmup + seconds)) * len(HEALTHY)
            deadline = time.monotonic() + 60
            while True:  # every healthy delivery arrives (none may be lost)
                arrived = httpx.get(receiver + "/latencies", trust_env=False).json()
                if len(arrived) >= expected or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
    if len(arrived) < expected:
        raise RuntimeError(f"only {len(arrived)} of {expected} healthy deliveries arrived")
    counted = [latency * 1000 for sent, latency in arrived if sent >= counted_from]
    return Phase(counted, expected)


@dataclass(frozen=True)
class Figures:
    alone: Phase
    with_dead: Phase

    @property
    def ratio(self) -> float:
        return self.with_dead.p99 / self.alone.p99 if self.alone.p99 else 0.0

    def row(self) -> dict[str, float]:
        return {"healthy p50 ms, partner up": self.alone.p50,
                "healthy p99 ms, partner up": self.alone.p99,
                "healthy p50 ms, dead endpoint": self.with_dead.p50,
                "healthy p99 ms, dead endpoint": self.with_dead.p99,
                "ratio (p99 partner dead / up)": self.ratio}


def run(*, rate: float = 40.0, seconds: float = 20.0, warmup: float = 5.0,
        database: str = "sqlite") -> Figures:
    ensure_secret_key()
    with scratch("receiver") as tmp, helper_server("receiver", "--delay", "30",
                                                   port=free_port(),
                                                   log=tmp / "receiver.log") as receiver:
        alone = phase(receiver.url, dead=False, database=database, rate=rate,
                      seconds=seconds, warmup=warmup)
        with_dead = phase(receiver.url, dead=True, database=database, rate=rate,
                          seconds=seconds, warmup=warmup)
    return Figures(alone, with_dead)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=40.0, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds written first and not counted")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    runs = []
    for i in range(args.repeat):
        figures = run(rate=args.rate, seconds=args.seconds, warmup=args.warmup,
                      database=args.database)
        print(f"run {i + 1}/{args.repeat} ({args.database}, {args.rate:g} writes/s, "
              f"{len(HEALTHY)} healthy triggers): healthy delivery p99 "
              f"{figures.alone.p99:.1f} ms with the partner's endpoint up, "
              f"{figures.with_dead.p99:.1f} ms with it dead | ratio {figures.ratio:.2f}",
              flush=True)
        runs.append(figures)
    rows = [f.row() for f in runs]
    summarise(f"dead endpoint on {args.database}", rows, list(rows[0]))
    ratios = sorted(f.ratio for f in runs)
    ratio = ratios[len(ratios) // 2]
    print(verdict("ratio", ratio, f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
