"""Plan -> text (Terraform's conventions), JSON (versioned, for bots) and Markdown (PR comments).

Rendering never sees a secret value: sensitive attributes show their ``${env:…}``
reference and ``(sensitive value)``; generated ones ``(known after apply)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from hookplane.plan.diff import FORCE_NEW, SECRET_ATTRIBUTES
from hookplane.plan.model import Action, Change, Plan
from hookplane.plan.rules import singular

Style = Callable[..., str]

_SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.DELETE: "-",
    Action.NOOP: " ",
}
_COLOR = {"+": "green", "~": "yellow", "-": "red", "-/+": "red"}
_HEADLINE = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in-place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
}
SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"


def _plain(text: str, **_: Any) -> str:
    return text


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _inline(value: Any) -> str | None:
    """A short one-line rendering of a value, or None if it needs several lines."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        return None
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(not isinstance(v, dict | list) for v in value):
            text = "[" + ", ".join(_scalar(v) for v in value) + "]"
            return text if len(text) <= 60 else None
        return None
    return _scalar(value)


class _Writer:
    def __init__(self, style: Style) -> None:
        self.lines: list[str] = []
        self.style = style

    def emit(self, indent: int, symbol: str, text: str) -> None:
        mark = symbol.rjust(3) if symbol.strip() else "   "
        if symbol.strip():
            mark = self.style(mark, fg=_COLOR.get(symbol.strip()))
        self.lines.append(" " * indent + mark + " " + text)

    # ---------------------------------------------------------------- whole values

    def value(self, indent: int, symbol: str, key: str, value: Any, *,
              suffix: str = "", width: int = 0) -> None:
        label = f"{key.ljust(width)} = " if key else ""
        inline = _inline(value)
        if inline is not None:
            self.emit(indent, symbol, f"{label}{inline}{suffix}")
            return
        if isinstance(value, dict):
            self.emit(indent, symbol, f"{label}{{")
            inner = max((len(str(k)) for k in value), default=0)
            for k, v in value.items():
                self.value(indent + 4, symbol, str(k), v, width=inner)
            self.emit(indent, " ", f"}}{suffix}")
        else:
            self.emit(indent, symbol, f"{label}[")
            for item in value:
                self.value(indent + 4, symbol, "", item, suffix=",")
            self.emit(indent, " ", f"]{suffix}")

    # ---------------------------------------------------------------- differences

    def dict_diff(self, indent: int, before: dict[str, Any], after: dict[str, Any], *,
                  path: str, change: Change) -> None:
        keys = list(after) + [k for k in before if k not in after]
        width = max((len(str(k)) for k in keys), default=0)
        hidden = 0
        for key in keys:
            sub = f"{path}{key}"
            b = before.get(key)
            a = after.get(key)
            print_changed = any(d.sensitive and d.path == sub for d in change.diff)
            sensitive = sub in change.sensitive_paths
            note = ""
            if change.action is Action.REPLACE and sub in FORCE_NEW.get(change.kind, {}):
                note = " # forces replacement"
            if key not in before:
                self.value(indent, "+", str(key), a, width=width,
                           suffix=" (sensitive)" if sensitive else "")
            elif key not in after:
                self.value(indent, "-", str(key), b, width=width, suffix=" -> null")
            elif a == b and not print_changed and not any(
                d.sensitive and d.path.startswith(sub + ".") for d in change.diff
            ):
                hidden += 1
            elif isinstance(a, dict) and isinstance(b, dict):
                self.emit(indent, "~", f"{str(key).ljust(width)} = {{{note}")
                self.dict_diff(indent + 4, b, a, path=sub + ".", change=change)
                self.emit(indent, " ", "}")
            elif isinstance(a, list) and isinstance(b, list) and a != b:
                self.emit(indent, "~", f"{str(key).ljust(width)} = [{note}")
                self.list_diff(indent + 4, b, a)
                self.emit(indent, " ", "]")
            elif a == b:
                self.emit(indent, "~", f"{str(key).ljust(width)} = {_scalar(a)} "
                          f"{SENSITIVE} # value changed{note}")
            else:
                b_text = _inline(b) or json.dumps(b)
                a_text = _inline(a) or json.dumps(a)
                self.emit(indent, "~", f"{str(key).ljust(width)} = {b_text} -> {a_text}{note}")
        if hidden:
            plural = "s" if hidden != 1 else ""
            self.emit(indent, " ", f"# ({hidden} unchanged attribute{plural} hidden)")

    def list_diff(self, indent: int, before: list[Any], after: list[Any]) -> None:
        import difflib

        b_keys = [json.dumps(v, sort_keys=True) for v in before]
        a_keys = [json.dumps(v, sort_keys=True) for v in after]
        matcher = difflib.SequenceMatcher(a=b_keys, b=a_keys, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                for item in before[i1:i2]:
                    self.value(indent, " ", "", item, suffix=",")
                continue
            for item in before[i1:i2]:
                self.value(indent, "-", "", item, suffix=",")
            for item in after[j1:j2]:
                self.value(indent, "+", "", item, suffix=",")


def _resource_lines(change: Change, style: Style) -> list[str]:
    writer = _Writer(style)
    kind = singular(change.kind).replace(" ", "_").replace("API_key", "api_key")
    if change.action is Action.NOOP and change.moved_from:
        writer.lines.append(f"  # {change.moved_from} has moved to {change.address}")
    else:
        headline = _HEADLINE[change.action]
        writer.lines.append(f"  # {change.address} {headline}")
        if change.moved_from:
            writer.lines.append(f"  # (moved from {change.moved_from})")
        if change.reason:
            writer.lines.append(f"  # ({change.reason})")
    symbol = _SYMBOL[change.action]
    writer.emit(0, symbol, f'{kind} "{change.name}" {{')
    secrets = [SECRET_ATTRIBUTES[g] for g in change.generate]
    if change.action is Action.CREATE:
        after = change.after or {}
        keys = [*after, "id", *secrets]
        width = max(len(k) for k in keys)
        writer.emit(4, "+", f"{'id'.ljust(width)} = {UNKNOWN}")
        for key, value in after.items():
            if value is None or value in ({}, []):
                continue
            sensitive = f"{key}" in change.sensitive_paths or any(
                p.startswith(key + ".") for p in change.sensitive_paths)
            writer.value(4, "+", key, value, width=width,
                         suffix=" (sensitive)" if sensitive and _inline(value) else "")
        for attr in secrets:
            writer.emit(4, "+", f"{attr.ljust(width)} = {SENSITIVE} {UNKNOWN}")
    elif change.action is Action.DELETE:
        before = change.before or {}
        width = max([len(k) for k in before] + [2])
        writer.emit(4, "-", f"{'id'.ljust(width)} = {_scalar(change.id)} -> null")
        for key, value in before.items():
            if value is None or value in ({}, []):
                continue
            writer.value(4, "-", key, value, width=width, suffix=" -> null")
    else:
        shown_id = UNKNOWN if change.action is Action.REPLACE else _scalar(change.id)
        writer.emit(4, " ", f"id = {shown_id}")
        writer.dict_diff(4, change.before or {}, change.after or {}, path="", change=change)
        for attr in secrets:
            verb = "(known after apply)" if change.action is Action.REPLACE else "(new)"
            writer.emit(4, "+", f"{attr} = {SENSITIVE} {verb}")
        for dropped in change.drop:
            if change.action is Action.UPDATE:
                writer.emit(4, "-", f"{SECRET_ATTRIBUTES[dropped]} = {SENSITIVE} -> null")
    writer.emit(0, " ", "}")
    return writer.lines


def summary(plan: Plan) -> str:
    """The summary line, in Terraform's words and counts so that tools parsing Terraform's
    read it: a replacement counts once in "to add" and once in "to destroy"."""
    if not plan.has_changes:
        return f"No changes. Environment '{plan.environment}' matches the configuration."
    replaced = plan.count(Action.REPLACE)
    return (f"Plan: {plan.count(Action.CREATE) + replaced} to add, "
            f"{plan.count(Action.UPDATE)} to change, "
            f"{plan.count(Action.DELETE) + replaced} to destroy.")


def summary_detail(plan: Plan) -> str | None:
    """Hookplane's detail the Terraform line leaves out (replacements, moves), or None."""
    replaced = plan.count(Action.REPLACE)
    moved = sum(1 for c in plan.changes if c.moved_from)
    parts = []
    if replaced:
        parts.append(f"{replaced} to replace (each counted above in add and in destroy)")
    if moved:
        parts.append(f"{moved} moved")
    return f"Detail: {', '.join(parts)}." if parts else None


def render_text(plan: Plan, *, style: Style = _plain) -> str:
    lines: list[str] = []
    if plan.drift:
        lines += [style("Note: Objects have changed outside of Hookplane", bold=True), "",
                  "Hookplane detected the following changes made outside of git since the last "
                  "\"hookplane apply\":", ""]
        for note in plan.drift:
            for event in note.events or note.changed_paths:
                lines.append(f"  # {note.address}: {event}")
            if note.events and note.changed_paths:
                lines.append(f"  # {note.address}: {note.changed_paths[0]}")
        lines += ["", "Apply brings attributes back to the YAML; runtime-rotated secrets are kept.",
                  ""]
    for warning in plan.warnings:
        lines.append(style("Warning: ", fg="yellow", bold=True) + warning)
    if plan.warnings:
        lines.append("")
    if not plan.has_changes:
        lines.append(style(summary(plan), fg="green", bold=True))
        return "\n".join(lines) + "\n"
    if plan.mode == "refresh-only":
        lines += ["This is a refresh-only plan: applying it changes no resource; it records in "
                  "the state (and the audit log) that the changes above were made on purpose, "
                  "so the notes are not shown again.", "",
                  style(f"Refresh-only: {len(plan.drift)} drift note(s) to acknowledge.",
                        bold=True)]
        return "\n".join(lines) + "\n"
    if plan.mode == "destroy":
        lines += [style("Destroy mode: every resource applied to "
                        f"'{plan.environment}' is destroyed.", bold=True), ""]
    used = {c.action for c in plan.changes if c.action is not Action.NOOP}
    lines.append("Hookplane will perform the following actions on environment "
                 f"'{plan.environment}' (state serial {plan.serial}).")
    legend = [(Action.CREATE, "create"), (Action.UPDATE, "update in-place"),
              (Action.REPLACE, "destroy and then create replacement"),
              (Action.DELETE, "destroy")]
    if used:
        lines.append("Resource actions are indicated with the following symbols:")
    for action, words in legend:
        if action in used:
            lines.append(f"{_SYMBOL[action].rjust(3)} {words}")
    lines.append("")
    for change in plan.changes:
        lines += _resource_lines(change, style)
        lines.append("")
    lines.append(style(summary(plan), bold=True))
    detail = summary_detail(plan)
    if detail:
        lines.append(detail)
    return "\n".join(lines) + "\n"


def _sensitive(paths: Sequence[str], value: Any) -> dict[str, bool] | bool:
    """Terraform's ``*_sensitive``: false, or the dotted paths holding a ``${env:…}`` value
    marked true (flat keys: Hookplane's paths are dotted)."""
    if value is None or not paths:
        return False
    return dict.fromkeys(paths, True)


def _unknown(change: Change) -> dict[str, bool]:
    return dict.fromkeys(change.unknown_paths, True)


def render_json(plan: Plan) -> str:
    """A versioned document for bots; never a secret value."""
    resource_changes = []
    for change in plan.changes:
        resource_changes.append({
            "address": change.address,
            "kind": change.kind,
            "name": change.name,
            "id": change.id,
            "moved_from": change.moved_from,
            "actions": change.action.actions,
            "before": change.before,
            "after": change.after,
            "after_unknown": _unknown(change),
            "sensitive": list(change.sensitive_paths),
            "changed_attributes": [d.path for d in change.diff],
            "action_reason": change.reason,
            # Terraform's shape, for plan-review tools that read `terraform show -json`
            "type": change.kind,
            "change": {
                "actions": change.action.actions,
                "before": change.before,
                "after": change.after,
                "after_unknown": _unknown(change),
                "before_sensitive": _sensitive(change.sensitive_paths, change.before),
                "after_sensitive": _sensitive(change.sensitive_paths, change.after),
            },
        })
    document = {
        "format_version": plan.format_version,
        "mode": plan.mode,
        "targets": list(plan.targets),
        "environment": plan.environment,
        "environment_kind": plan.environment_kind,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "config_digest": plan.config_digest,
        "resource_changes": resource_changes,
        "resource_drift": [
            {"address": d.address, "events": list(d.events), "changed": list(d.changed_paths)}
            for d in plan.drift
        ],
        "warnings": list(plan.warnings),
        "summary": {
            "add": plan.count(Action.CREATE),
            "change": plan.count(Action.UPDATE),
            "replace": plan.count(Action.REPLACE),
            "destroy": plan.count(Action.DELETE),
            "move": sum(1 for c in plan.changes if c.moved_from),
            "unchanged": plan.unchanged,
        },
        "has_changes": plan.has_changes,
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


MARKDOWN_LIMIT = 65_000
"""GitHub refuses comments over 65,536 characters; stay below with room for a footer."""


def render_markdown(plan: Plan, *, full_plan_url: str | None = None,
                    limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment: summary, then the text plan in a diff block, truncated."""
    detail = summary_detail(plan)
    head = (f"### Hookplane plan for `{plan.environment}`\n\n**{summary(plan)}**"
            + (f" {detail}" if detail else "") + "\n\n")
    if not plan.has_changes:
        return head
    body = render_text(plan)
    fence_open = "<details><summary>Show plan</summary>\n\n```diff\n"
    fence_close = "```\n</details>\n"
    room = limit - len(head) - len(fence_open) - len(fence_close) - 300
    if len(body) > room:
        cut = body[:room].rsplit("\n", 1)[0] + "\n"
        where = f" Full plan: {full_plan_url}" if full_plan_url else (
            " Run `hookplane plan` to see the full plan.")
        body = cut + f"... plan truncated ({len(body):,} characters).{where}\n"
    return head + fence_open + body + fence_close
