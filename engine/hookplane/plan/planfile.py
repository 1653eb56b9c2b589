"""Saved plan files (``hookplane plan ENV --out FILE``): tamper-evident.

A plan file is JSON::

    {"hookplane_plan": {...the plan...}, "mac": "hmac-sha256:<64 hex digits>"}

The MAC is HMAC-SHA256 of the canonical JSON of the ``hookplane_plan`` object (keys sorted,
no whitespace, ASCII only) under a key the caller passes: the apply layer derives it from the
state's secret key, so only someone holding that key can make a file that verifies. The
layout of the file does not matter (re-indenting is harmless); any change to its content
does. The plan records the sha256 of every YAML file it was made from (``config_files``);
:func:`config_file_changes` names the files that differ from a checkout.

Pure: the key and the file digests are given; nothing here reads a file or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from hookplane.errors import PlanError
from hookplane.plan.model import Plan

MAC_SCHEME = "hmac-sha256"


def dump_plan_file(plan: Plan, *, key: bytes) -> str:
    """The text of a plan file for ``plan``, authenticated under ``key``."""
    content = plan.to_dict()
    document = {"hookplane_plan": content, "mac": f"{MAC_SCHEME}:{_mac(content, key)}"}
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def load_plan_file(text: str, *, key: bytes, source: str, environment: str) -> Plan:
    """The plan in a plan file, once its MAC verifies under ``key``.

    ``source`` names the file and ``environment`` the one being applied, for the messages.
    Raises :class:`PlanError`: not a plan file, no MAC (an older Hookplane, or removed), or a
    MAC that does not verify (the file was edited, or made against another state's key).
    """
    again = f"Make the plan again: hookplane plan {environment} --out FILE"
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PlanError(f"{source} is not a Hookplane plan file (not JSON: {exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("hookplane_plan"), dict):
        raise PlanError(f"{source} is not a Hookplane plan file (no 'hookplane_plan' object)")
    mac = document.get("mac")
    if not isinstance(mac, str) or not mac:
        raise PlanError(
            f"{source} has no integrity check (MAC): it was saved by an older Hookplane or the "
            f"MAC was removed. Nothing was applied.\n{again}"
        )
    content: dict[str, Any] = document["hookplane_plan"]
    scheme, _, received = mac.partition(":")
    expected = _mac(content, key)
    if scheme != MAC_SCHEME or not hmac.compare_digest(received.encode("ascii", "replace"),
                                                       expected.encode("ascii")):
        raise PlanError(
            f"{source} failed its integrity check: it was changed after 'hookplane plan' saved "
            "it, or it was made against another state (a different secret key). Nothing was "
            f"applied.\n{again}"
        )
    return Plan.from_dict(content)


def config_file_changes(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """``changed: PATH`` / ``added: PATH`` / ``removed: PATH`` for every YAML file whose
    sha256 differs between the plan (``recorded``) and the checkout (``current``), by path."""
    lines: list[str] = []
    for path in sorted(set(recorded) | set(current)):
        if path not in current:
            lines.append(f"removed: {path}")
        elif path not in recorded:
            lines.append(f"added: {path}")
        elif recorded[path] != current[path]:
            lines.append(f"changed: {path}")
    return lines


def _mac(content: Mapping[str, Any], key: bytes) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, canonical.encode("ascii"), hashlib.sha256).hexdigest()
