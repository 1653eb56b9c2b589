"""Plans as data: ``diff(config, snapshot) -> Plan`` (pure) and its renderers."""

from __future__ import annotations

from hookplane.plan.diff import diff
from hookplane.plan.model import Action, AttributeChange, Change, DriftNote, Plan
from hookplane.plan.render import render_json, render_markdown, render_text, summary

__all__ = [
    "Action",
    "AttributeChange",
    "Change",
    "DriftNote",
    "Plan",
    "diff",
    "render_json",
    "render_markdown",
    "render_text",
    "summary",
]
