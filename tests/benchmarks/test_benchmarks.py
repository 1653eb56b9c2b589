"""Regression guard: each benchmark of ``benchmarks/`` at a small size, through the scripts'
own ``run()`` functions. Only a gross regression of a ratio fails — never a wall-clock time:
the machine may be slow or busy, and both sides of a ratio are measured in the same run.
The thresholds are far below the targets of ``docs/performance.md``."""

from __future__ import annotations

import shutil

import pytest

from benchmarks import dead_endpoint, dispatch, footprint, ingest, isolation, plan_10k
from tests.conftest import missing_tool


@pytest.fixture
def wrk() -> None:
    if shutil.which("wrk") is None:
        missing_tool("wrk is not installed (apt-get install -y wrk)")


needs_wrk = pytest.mark.usefixtures("wrk")


def test_plan_10k_small() -> None:
    _title, rows = plan_10k.run(resources=500, files=2, repeat=1)
    base = rows[0][1]
    ratios = {label: seconds / base for label, seconds in rows}
    # loading and planning cost a few times the YAML parse; 25x would be a regression
    assert ratios["load + validate (hookplane.config)"] < 25, ratios
    assert ratios["plan, no changes"] < 25, ratios


def test_plan_trigger_heavy_updates_small() -> None:
    _title, rows = plan_10k.run(resources=500, files=2, repeat=1, mix="trigger-heavy",
                                updates=True)
    base = rows[0][1]
    seconds = {label.split(" (")[0]: value for label, value in rows}
    plan, apply = seconds["plan 500 updates"], seconds["apply 500 updates"]
    # about 2.4x the YAML parse at this size (fixed costs weigh more than at 10,000, where
    # it is 1.0x); with DeepDiff building a tree per changed resource it measured 7.8x
    assert plan / base < 4, rows
    assert apply / plan < 3, rows  # 1.4 at this size, 0.9 at 10,000


@needs_wrk
def test_ingest_small() -> None:
    figures = ingest.run(seconds=3, warmup=1, connections=16, distinct=200)
    assert figures.hookplane.errors == 0 and figures.baseline.errors == 0
    # half of today's ratio at this size (about 1.3, one process each)
    assert figures.ratio >= 0.65, figures.row()


def test_dispatch_small() -> None:
    figures = dispatch.run(deliveries=1000, concurrency=8)
    # half of today's ratio at this size (0.9-1.1; 1.16 at 20,000 deliveries)
    assert figures.ratio >= 0.45, figures.row()


def test_isolation_small() -> None:
    figures = isolation.run(rate=50, seconds=4, delay=5, warmup=1)
    assert figures.slow.queued_at_end > 0
    # The regression this guards against is a write that waits for the 5 s receiver: its
    # latency is then seconds against a few milliseconds, a ratio in the hundreds at any
    # percentile. p99 of 200 writes is the second slowest — one scheduler hiccup on a busy
    # 2-core machine measured 3.89 — so the steady p90 carries the tight bound and p99 a
    # loose one; both are still far below what a real regression produces.
    assert figures.ratio_p90 <= 3, figures.row()
    assert figures.ratio <= 10, figures.row()


def test_dead_endpoint_small() -> None:
    figures = dead_endpoint.run(rate=30, seconds=5, warmup=4)
    # Guards against a dead endpoint holding the dispatcher's slots or claims: healthy
    # deliveries then wait for its 2 s timeouts, a ratio of 10-80 at p99 (measured before
    # the share of slots and the unclaimed open breaker); today about 1.
    assert figures.ratio <= 5, figures.row()


@needs_wrk
def test_footprint_small() -> None:
    figures = footprint.run(resources=500, seconds=3, connections=16, settle=1)
    assert figures.hookplane.peak_mb <= 300, figures.row()


def test_a_failing_answer_fails_the_ingest_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-2xx answers are counted and fail the run loudly (here: a wrong HMAC secret)."""
    if shutil.which("wrk") is None:
        missing_tool("wrk is not installed (apt-get install -y wrk)")
    monkeypatch.setattr(ingest, "sign", lambda _secret, body: "0" * 64)
    with pytest.raises(ingest.LoadErrors, match="non-2xx"):
        ingest.run(seconds=1, warmup=0, connections=4, distinct=10)
