"""Where each resource is declared: ``environments/<env>/<file>.yaml:<line>``.

The applied state does not record source files, so the console reads the environment's YAML
files in the working tree the runtime was started in (``create_app(root=…)``), the same
files ``hookplane plan`` reads. Files are re-read only when one changes (size or mtime).
A file that does not parse is skipped: the console only points at declarations, it never
validates or edits them.
"""

from __future__ import annotations

import threading
from pathlib import Path

from hookplane.config.loader import ENVIRONMENT_FILE, environment_files, environments_root
from hookplane.config.models import SECTIONS
from hookplane.config.yamlio import Positions, YamlProblem, parse

_Signature = tuple[tuple[str, int, int], ...]


class Declarations:
    """``address -> "environments/preview/incidents.yaml:12"`` per environment, cached."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._cache: dict[str, tuple[_Signature, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def of(self, environment: str) -> dict[str, str]:
        directory = environments_root(self._root) / environment
        if "/" in environment or environment.startswith(".") or not directory.is_dir():
            return {}
        files = [p for p in environment_files(directory, skip_outside=True)
                 if p.name != ENVIRONMENT_FILE]
        signature: _Signature = tuple(
            (p.as_posix(), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        with self._lock:
            cached = self._cache.get(environment)
        if cached is not None and cached[0] == signature:
            return cached[1]
        found: dict[str, str] = {}
        for path in files:
            rel = _relative(path, self._root)
            try:
                text = path.read_text(encoding="utf-8")
                data = parse(text)
            except (OSError, UnicodeError, YamlProblem):
                continue
            if not isinstance(data, dict):
                continue
            positions = Positions(text)
            for section, body in data.items():
                if section not in SECTIONS or not isinstance(body, dict):
                    continue
                for name in body:
                    address = f"{section}.{name}"
                    if address in found:
                        continue
                    line, _ = positions.find((section, name), key=True)
                    found[address] = f"{rel}:{line}" if line else rel
        with self._lock:
            self._cache[environment] = (signature, found)
        return found


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
