"""Plans as data: ``diff(config, snapshot) -> Plan`` (pure) and its renderers."""

from __future__ import annotations

from hookplane.plan.diff import diff
from hookplane.plan.model import Action, AttributeChange, Change, DriftNote, Plan
from hookplane.plan.planfile import config_file_changes, dump_plan_file, load_plan_file
from hookplane.plan.render import render_json, render_markdown, render_text, summary

__all__ = [
    "Action",
    "AttributeChange",
    "Change",
    "DriftNote",
    "Plan",
    "config_file_changes",
    "diff",
    "dump_plan_file",
    "load_plan_file",
    "render_json",
    "render_markdown",
    "render_text",
    "summary",
]
