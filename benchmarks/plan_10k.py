"""plan-10k: load and plan an environment of 10,000 resources.

Prints the time of each step and its ratio to a baseline measured in the same run: reading
the same files with ``yaml.load(..., Loader=yaml.CSafeLoader)``. Run:

    python benchmarks/plan_10k.py [--resources 10000] [--files 20] [--repeat 3]
        [--mix 10k|trigger-heavy] [--updates]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from hookplane.config import load_environment
from hookplane.config.applied import AppliedResource, Snapshot, canonical_hash
from hookplane.plan import diff

ENVIRON = {"SLACK_URL": "https://hooks.slack.example/T/B/x", "UPSTREAM_TOKEN": "t0k"}


def _fingerprint(value: str) -> str:
    return "fp:" + hmac.new(b"bench", value.encode(), hashlib.sha256).hexdigest()


def generate(root: Path, resources: int, files: int) -> None:
    """A realistic mix: per 10 resources, 2 collections, 1 source, 5 triggers, 2 webhooks."""
    env = root / "environments" / "bench"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: bench\nkind: preview\n")
    groups = resources // 10
    per_file = max(1, groups // files)
    for f in range(0, groups, per_file):
        parts: dict[str, list[str]] = {"collections": [], "sources": [], "triggers": [],
                                       "inbound_webhooks": []}
        for g in range(f, min(f + per_file, groups)):
            for c in (f"c{g}a", f"c{g}b"):
                parts["collections"].append(f"""  {c}:
    description: Collection {c} of the benchmark
    schema:
      type: object
      required: [title, severity]
      properties:
        title: {{type: string, maxLength: 200}}
        severity: {{type: string, enum: [p1, p2, p3]}}
        status: {{type: string}}
        opened_at: {{type: string, format: date-time}}
        owner: {{type: object, properties: {{name: {{type: string}}, email: {{type: string}}}}}}
""")
            parts["sources"].append(f"""  s{g}:
    collection: c{g}a
    base_url: https://api{g}.example.com
    headers: {{Authorization: "Bearer ${{env:UPSTREAM_TOKEN}}"}}
    read: {{method: GET, path: "/items/{{id}}"}}
    write: {{method: PUT, path: "/items/{{id}}"}}
    mapping:
      to_external: {{status: state, severity: urgency, title: summary}}
      value_maps: {{severity: {{p1: high, p2: medium, p3: low}}}}
      dates: {{opened_at: {{external: epoch_s}}}}
""")
            for t in range(5):
                parts["triggers"].append(f"""  t{g}-{t}:
    collection: c{g}{'ab'[t % 2]}
    events: [create, update]
    url: "${{env:SLACK_URL}}"
    filter: {{severity: p1}}
    body: {{text: "P1 {{{{record.title}}}} is {{{{record.status}}}}"}}
    retry: {{attempts: 5, backoff: exponential, initial_seconds: 1, max_seconds: 60}}
""")
            for w in range(2):
                parts["inbound_webhooks"].append(f"""  w{g}-{w}:
    collection: c{g}a
    auth: {{type: hmac, header: X-Signature}}
    source_binding: {{collection: c{g}a, source: s{g}}}
    ip_allowlist: [203.0.113.0/24, "2001:db8::/32"]
    rate_limit: {{requests: 60, per_seconds: 60}}
""")
        text = "".join(f"{section}:\n" + "".join(items) for section, items in parts.items())
        (env / f"part-{f:05d}.yaml").write_text(text)


def generate_trigger_heavy(root: Path, resources: int, files: int) -> None:
    """The outside review's mix: per 5 resources, 1 collection and 4 triggers, each trigger
    with ``${env:}`` references in its URL and a header (2,000 + 8,000 at 10,000)."""
    env = root / "environments" / "bench"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: bench\nkind: preview\n")
    groups = resources // 5
    per_file = max(1, groups // files)
    for f in range(0, groups, per_file):
        collections: list[str] = []
        triggers: list[str] = []
        for g in range(f, min(f + per_file, groups)):
            collections.append(f"""  c{g}:
    description: Collection {g}
    schema:
      type: object
      required: [title]
      properties:
        title: {{type: string, maxLength: 200}}
        severity: {{type: string, enum: [p1, p2, p3]}}
        status: {{type: string}}
""")
            for t in range(4):
                triggers.append(f"""  c{g}-t{t}:
    description: Trigger {t} of collection {g}
    collection: c{g}
    events: [create, update, delete]
    url: "https://hooks.example.com/services/${{env:UPSTREAM_TOKEN}}/t{t}"
    headers: {{Authorization: "Bearer ${{env:UPSTREAM_TOKEN}}", X-Team: team-{t}}}
    filter: {{severity: {{in: [p1, p2]}}}}
    body: {{text: "{{{{record.title}}}} is {{{{record.status}}}}"}}
    retry: {{attempts: 3, backoff: exponential, initial_seconds: 1, max_seconds: 60}}
""")
        text = ("collections:\n" + "".join(collections) + "triggers:\n" + "".join(triggers))
        (env / f"part-{f:05d}.yaml").write_text(text)


MIXES: dict[str, Callable[[Path, int, int], None]] = {
    "10k": generate, "trigger-heavy": generate_trigger_heavy}


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(*, resources: int = 10_000, files: int = 20, repeat: int = 3, mix: str = "10k",
        updates: bool = False) -> tuple[str, list[tuple[str, float]]]:
    """Time every step; (a one-line description, [(step, seconds)]), the baseline first.
    ``updates``: also plan and apply an update of every resource against a real SQLite
    state (the state read included, as ``hookplane plan`` and ``apply`` do)."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        MIXES[mix](root, resources, files)
        paths = sorted((root / "environments" / "bench").glob("*.yaml"))
        size = sum(p.stat().st_size for p in paths)

        def baseline() -> None:
            for path in paths:
                yaml.load(path.read_text(), Loader=yaml.CSafeLoader)

        config = load_environment(root, "bench")
        count = sum(1 for _ in config.all_resources())
        empty = Snapshot("bench", "", 0)
        first = diff(config, empty, environ=ENVIRON, fingerprint=_fingerprint)
        applied_resources = {
            c.address: AppliedResource(id=f"x{i}", kind=c.kind, name=c.name, spec=c.after or {},
                                       fingerprints=c.fingerprints, generated=c.generate,
                                       applied_hash=canonical_hash(c.after))
            for i, c in enumerate(first.changes)
        }
        applied = Snapshot("bench", "lineage", 1, applied_resources)
        changed = dict(applied_resources)
        for i, address in enumerate(list(changed)):
            if i % 100 == 0:
                old = changed[address]
                changed[address] = AppliedResource(**{**old.__dict__,
                                                      "spec": {**old.spec, "description": "old"}})
        one_percent = Snapshot("bench", "lineage", 1, changed)

        def plan_with(snapshot: Snapshot) -> Callable[[], object]:
            def go() -> None:
                diff(load_environment(root, "bench"), snapshot, environ=ENVIRON,
                     fingerprint=_fingerprint)
            return go

        def apply_all() -> None:
            from hookplane.apply import apply
            from hookplane.state.store import Store

            with tempfile.TemporaryDirectory() as state_dir, \
                    Store.open(f"sqlite:///{state_dir}/state.db", root=Path(state_dir)) as store:
                plan = diff(load_environment(root, "bench"), store.snapshot("bench"),
                            environ=ENVIRON, fingerprint=store.fingerprint)
                apply(plan, store, environ=ENVIRON, actor="benchmark")

        def update_all() -> tuple[float, float, float, int]:
            """(no-change plan, plan, apply, resources changed) of a change to every resource
            that has a description, against a real state (its read included)."""
            from hookplane.apply import apply
            from hookplane.state.store import Store

            with tempfile.TemporaryDirectory() as state_dir, \
                    Store.open(f"sqlite:///{state_dir}/state.db", root=Path(state_dir)) as store:
                apply(diff(load_environment(root, "bench"), store.snapshot("bench"),
                           environ=ENVIRON, fingerprint=store.fingerprint),
                      store, environ=ENVIRON, actor="benchmark")
                started = time.perf_counter()
                diff(load_environment(root, "bench"), store.snapshot("bench"),
                     environ=ENVIRON, fingerprint=store.fingerprint)
                unchanged = time.perf_counter() - started
                for path in paths:
                    path.write_text(path.read_text().replace("    description: ",
                                                             "    description: New "))
                try:
                    started = time.perf_counter()
                    plan = diff(load_environment(root, "bench"), store.snapshot("bench"),
                                environ=ENVIRON, fingerprint=store.fingerprint)
                    planned = time.perf_counter() - started
                    started = time.perf_counter()
                    apply(plan, store, environ=ENVIRON, actor="benchmark")
                    return (unchanged, planned, time.perf_counter() - started,
                            len(plan.changes))
                finally:
                    for path in paths:
                        path.write_text(path.read_text().replace("    description: New ",
                                                                 "    description: "))

        rows = [
            ("baseline: yaml.load CSafeLoader", timed(baseline, repeat)),
            ("load + validate (hookplane.config)", timed(lambda: load_environment(root, "bench"),
                                                         repeat)),
            ("plan, no changes", timed(plan_with(applied), repeat)),
            ("plan, 1% changed", timed(plan_with(one_percent), repeat)),
            (f"load + plan + apply {count // 1000 or count}{'k' if count >= 1000 else ''} "
             "creates (SQLite)", timed(apply_all, 1)),
        ]
        if updates:
            unchanged, planned, applied_in, updated = update_all()
            rows += [("plan, no changes (state read incl.)", unchanged),
                     (f"plan {updated:,} updates (state read incl.)", planned),
                     (f"apply {updated:,} updates (SQLite)", applied_in)]
        title = (f"{count:,} resources in {len(paths)} files, {size / 1e6:.1f} MB; median of "
                 f"{repeat}; Python {sys.version.split()[0]}")
        return title, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mix", choices=sorted(MIXES), default="10k",
                        help="10k: 2 collections, 1 source, 5 triggers, 2 webhooks per 10; "
                             "trigger-heavy: 1 collection and 4 triggers with ${env:} per 5")
    parser.add_argument("--updates", action="store_true",
                        help="also plan and apply an update of every resource")
    args = parser.parse_args()
    title, rows = run(resources=args.resources, files=args.files, repeat=args.repeat,
                      mix=args.mix, updates=args.updates)
    base = rows[0][1]
    print(title)
    for label, seconds in rows:
        print(f"  {label:<40} {seconds:7.3f} s   {seconds / base:5.2f}x baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
