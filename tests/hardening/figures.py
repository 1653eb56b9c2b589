"""Figures of the hardening runs, collected for ``docs/reliability.md``.

A test calls :func:`record` with what it measured (cases run, items accepted and delivered,
files scanned…). Nothing is written during an ordinary test run; when
``HOOKPLANE_HARDENING_FIGURES`` names a file (``python -m tests.hardening.report`` sets it),
the figures are merged into that JSON file, one entry per (section, name).

``HOOKPLANE_HARDENING_LONG=1`` (or selecting the ``long`` marker) scales every figure up:
more hypothesis examples, more items in flight, the long scenarios.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

FIGURES_ENV = "HOOKPLANE_HARDENING_FIGURES"
LONG_ENV = "HOOKPLANE_HARDENING_LONG"

SECTIONS = ("fuzz", "faults", "secrets")
"""fuzz: one entry per target; faults: one per scenario; secrets: one per artifact kind."""

_lock = threading.Lock()


def long_run() -> bool:
    return os.environ.get(LONG_ENV, "") not in ("", "0")


def scale(default: int, long: int) -> int:
    """``default`` in the ordinary run, ``long`` with ``HOOKPLANE_HARDENING_LONG=1``."""
    return long if long_run() else default


def record(section: str, name: str, **values: Any) -> None:
    """Keep ``values`` as the figures of ``name`` in ``section`` (when collecting)."""
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}")
    target = os.environ.get(FIGURES_ENV)
    if not target:
        return
    path = Path(target)
    with _lock:
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault(section, {})[name] = values
        data["long"] = long_run()
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
