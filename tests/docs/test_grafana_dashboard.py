"""docs/operations/grafana-dashboard.json queries only series and labels the runtime exposes.

A dashboard breaks silently when a metric or label is renamed: every panel would show "No
data". Each query's metric names must be samples of :class:`~hookplane.runtime.metrics.
Metrics` as rendered for ``GET /metrics`` (with the ``replica`` label), and every label it
groups or filters by must be one of that series' labels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from hookplane.runtime.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "operations" / "grafana-dashboard.json"


def _exposed() -> dict[str, set[str]]:
    """Sample name -> label names, from a Metrics whose every series has one sample."""
    metrics = Metrics(replica="host:1")
    for collector in list(metrics.registry._collector_to_names):  # every family
        names = getattr(collector, "_labelnames", ())
        child = collector.labels(**dict.fromkeys(names, "x")) if names else collector
        if hasattr(child, "inc"):
            child.inc()
        elif hasattr(child, "observe"):
            child.observe(0.1)
        else:
            child.set(1)
    exposed: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            exposed.setdefault(sample.name, set()).update(sample.labels, {"le"} & set(
                sample.labels))
    return exposed


def _queries() -> list[tuple[str, str]]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text())
    found = [(panel["title"], target["expr"]) for panel in board["panels"]
             for target in panel["targets"]]
    variables = board["templating"]["list"]
    found += [(f"variable {v['name']}", v["definition"]) for v in variables
              if v.get("definition")]
    return found


def test_the_dashboard_has_a_panel_per_series_family() -> None:
    queried = {name for _, expr in _queries() for name in re.findall(r"hookplane_\w+", expr)}
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", name)
                for name in _exposed()}
    missing = {f for f in families
               if not any(q == f or q.startswith(f + "_") for q in queried)}
    assert not missing, f"series no panel shows: {sorted(missing)}"


def test_every_query_names_exposed_series_and_labels() -> None:
    exposed = _exposed()
    problems = []
    for title, expr in _queries():
        names = re.findall(r"hookplane_\w+", expr)
        assert names, f"{title}: no hookplane series in {expr!r}"
        labels_used = set()
        for grouping in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            labels_used |= {label.strip() for label in grouping.split(",") if label.strip()}
        for selector in re.findall(r"\{([^}]*)\}", expr):
            labels_used |= set(re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", selector))
        labels_used |= set(re.findall(r"label_values\(\s*\w+\s*,\s*(\w+)", expr))
        for name in names:
            if name not in exposed:
                problems.append(f"{title}: {name} is not exposed")
                continue
            unknown = labels_used - exposed[name] - {"le"}
            if unknown:
                problems.append(f"{title}: {name} has no label(s) {sorted(unknown)}")
    assert not problems, "\n".join(problems)


def test_the_metrics_page_links_the_dashboard() -> None:
    page = (DASHBOARD.parent / "metrics.md").read_text()
    assert "grafana-dashboard.json" in page
