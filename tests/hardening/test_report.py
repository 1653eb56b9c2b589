"""``docs/reliability.md`` is the generator's output, current with the suite: the page is
exactly what ``tests.hardening.report`` renders from the figures embedded in it (no hand
edits, every test module listed with its current description), and it holds figures for
every kind of scenario."""

from __future__ import annotations

import json
from pathlib import Path

from tests.hardening import report


def test_the_page_is_the_generators_output() -> None:
    page = report.PAGE.read_text()
    data = report.embedded(page)
    assert report.render(data) == page, (
        "docs/reliability.md is stale or was edited by hand: run "
        "'python -m tests.hardening.report'")


def test_the_page_has_figures_of_every_kind() -> None:
    data = report.embedded(report.PAGE.read_text())
    run = data["run"]
    assert run["tests"] > 0 and run["failed"] == 0 and run["exit_code"] == 0
    assert {"fuzz", "faults", "secrets"} <= set(data)
    assert all(f["server_errors"] == 0 and f["cases"] > 0 for f in data["fuzz"].values())
    assert any(name.startswith("ingest") for name in data["fuzz"])
    assert any(name.startswith("records API") for name in data["fuzz"])
    assert any(name.startswith("schemathesis") for name in data["fuzz"])
    assert all(f["leaks"] == 0 for f in data["secrets"].values())
    expected = ("PostgreSQL stopped", "misbehaving receivers", "kill -9 of 'hookplane apply'",
                "slow body", "slowloris", "kill -9 of 'hookplane serve'")
    for scenario in expected:
        assert any(name.startswith(scenario) for name in data["faults"]), scenario


def test_the_generator_renders_saved_figures(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    figures.write_text(json.dumps({
        "run": {"date": "2026-01-01", "long": False, "seconds": 1, "exit_code": 0,
                "tests": 1, "passed": 1, "failed": 0, "skipped_or_xfailed": 0,
                "machine": "test"},
        "fuzz": {"ingest: x [sqlite]": {"cases": 3, "statuses": {"400": 3},
                                        "server_errors": 0}},
        "faults": {"f": {"accepted": 2, "delivered": 2, "result": "ok", "n": 1}},
        "secrets": {"s": {"secret_values": 4, "artifacts": {"CLI output": 2},
                          "bytes_scanned": 10, "leaks": 0, "result": "clean"}}}))
    out = tmp_path / "page.md"
    assert report.main(["--figures", str(figures), "--out", str(out)]) == 0
    page = out.read_text()
    assert "| ingest: x [sqlite] | 3 | 400: 3 | 0 | — |" in page
    assert "| f | 2 | 2 | ok | n: 1 |" in page
    assert report.embedded(page)["faults"]["f"]["delivered"] == 2
    for module, _doc in report.modules():
        assert f"`{module}`" in page
