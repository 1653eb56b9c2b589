"""Who may import whom (DESIGN.md, "Layering"), checked on the source with ``ast``.

Every module under ``engine/hookplane`` is parsed; every import is collected wherever it
is written -- at the top, inside functions, under ``if TYPE_CHECKING:`` -- including
relative imports and ``importlib.import_module("…")`` / ``__import__("…")`` with a literal
name. Package imports are reduced to their layer (``hookplane.config.loader`` -> config);
third-party imports to their top-level distribution module.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
PACKAGE = "hookplane"

ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "presets": frozenset({"errors"}),
    # mapping is the one implementation of the small languages (templates, compose, filters,
    # dates, mappings); config validation calls it, so config sits above mapping
    "config": frozenset({"errors", "mapping", "presets"}),
    "mapping": frozenset({"errors"}),
    "plan": frozenset({"config", "mapping", "errors"}),
    "state": frozenset({"config", "mapping", "errors"}),
    "apply": frozenset({"config", "mapping", "plan", "presets", "state", "errors"}),
    "yamledit": frozenset({"config", "errors"}),
    "promote": frozenset({"config", "mapping", "plan", "state", "yamledit", "errors"}),
    "authoring": frozenset({"config", "mapping", "plan", "yamledit", "errors"}),
    "catalogue": frozenset({"config", "mapping", "errors"}),
    "runtime": frozenset({"config", "mapping", "presets", "state", "errors"}),
    "cli": frozenset({"errors", "config", "mapping", "plan", "state", "apply", "promote",
                      "authoring", "yamledit", "runtime", "catalogue", "presets"}),
}
"""Layer -> the other layers of the package it may import (its own is always fine)."""

PURE = frozenset({"errors", "presets", "config", "mapping", "plan", "catalogue"})
IMPURE_LIBRARIES = frozenset({"sqlalchemy", "httpx", "aiohttp", "litestar", "click", "alembic",
                              "uvicorn"})
ONLY_IN: dict[str, frozenset[str]] = {
    "sqlalchemy": frozenset({"state"}),
    "alembic": frozenset({"state"}),
    "litestar": frozenset({"runtime"}),
    "httpx": frozenset({"runtime"}),
    "aiohttp": frozenset({"runtime"}),
}
"""Library -> the only layers that may import it."""


@dataclass(frozen=True, order=True)
class Import:
    module: str
    """The importing module, e.g. ``hookplane.config.loader``."""
    line: int
    target: str
    """The imported module, absolute, e.g. ``hookplane.errors`` or ``sqlalchemy.orm``."""


def layer_of(module: str) -> str:
    """``hookplane.config.loader`` -> ``config``; ``hookplane`` -> ``hookplane`` (the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, source: str, *, is_package: bool = False) -> list[Import]:
    """Every import in ``source`` (the text of ``module``), wherever it is written."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(Import(module, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            if base == PACKAGE:
                # ``from hookplane import config`` names a layer; ``__version__`` is the root
                found.extend(
                    Import(module, node.lineno,
                           f"{base}.{alias.name}" if alias.name in ALLOWED else base)
                    for alias in node.names)
            elif node.level and not node.module:
                # ``from . import models`` names sibling modules
                found.extend(Import(module, node.lineno, f"{base}.{alias.name}")
                             for alias in node.names)
            else:
                found.append(Import(module, node.lineno, base))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                   or (isinstance(node.func, ast.Attribute)
                       and node.func.attr == "import_module"))):
            found.append(Import(module, node.lineno, node.args[0].value))
    return found


def violations(imports: list[Import]) -> list[str]:
    """Every import that breaks a layering rule, as ``module:line: target: rule``."""
    problems: list[str] = []
    for item in sorted(imports):
        source = layer_of(item.module)
        where = f"{item.module}:{item.line}: {item.target}"
        top = item.target.split(".")[0]
        if top == PACKAGE:
            if item.target == PACKAGE:
                if source == "errors":
                    problems.append(f"{where}: errors imports nothing from the package")
                continue
            target = layer_of(item.target)
            if target == source:
                continue
            if source == PACKAGE:
                problems.append(f"{where}: the package root imports nothing from the package")
            elif target == "cli":
                problems.append(f"{where}: nothing outside cli imports cli")
            elif source in ALLOWED and target not in ALLOWED[source]:
                allowed = ", ".join(sorted(ALLOWED[source]))
                problems.append(f"{where}: {source} may import only {allowed}" if allowed
                                else f"{where}: {source} imports nothing from the package")
            elif source not in ALLOWED:
                problems.append(f"{where}: {source} is not a known layer; add it to DESIGN.md")
        else:
            if source in PURE and top in IMPURE_LIBRARIES:
                problems.append(f"{where}: {source} is pure and may not use {top}")
            elif top in ONLY_IN and source not in ONLY_IN[top]:
                owners = ", ".join(sorted(ONLY_IN[top]))
                problems.append(f"{where}: only {owners} may import {top}")
    return problems


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ENGINE).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def package_imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted((ENGINE / PACKAGE).rglob("*.py")):
        module, is_package = _module_name(path)
        found.extend(imports_of(module, path.read_text(encoding="utf-8"), is_package=is_package))
    return found


# --------------------------------------------------------------------------- the real code


def test_the_package_respects_the_layering() -> None:
    problems = violations(package_imports())
    assert problems == [], "layering broken (see DESIGN.md):\n" + "\n".join(problems)


def test_the_checker_reads_the_real_package() -> None:
    imports = package_imports()
    modules = {item.module for item in imports}
    assert {"hookplane.errors", "hookplane.config.loader", "hookplane.cli.main"} <= modules
    loader = {item.target for item in imports if item.module == "hookplane.config.loader"}
    assert {"hookplane.config.models", "hookplane.errors", "pydantic"} <= loader
    # the lazy import inside load() is seen too
    assert "hookplane.config.validate" in loader
    # and the TYPE_CHECKING import in validate.py
    validate = {item.target for item in imports if item.module == "hookplane.config.validate"}
    assert "hookplane.config.loader" in validate


# --------------------------------------------------------------------------- self-tests


def _check(sources: dict[str, str]) -> list[str]:
    imports: list[Import] = []
    for module, source in sources.items():
        is_package = module.endswith(".__init__")
        name = module.removesuffix(".__init__")
        imports.extend(imports_of(name, source, is_package=is_package))
    return violations(imports)


def test_checker_catches_upward_imports_wherever_they_are_written() -> None:
    assert _check({
        "hookplane.config.bad": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from hookplane.plan.model import Plan\n"
            "def late():\n"
            "    import hookplane.state.store\n"
        ),
        "hookplane.mapping.sneaky": "import importlib\nimportlib.import_module('hookplane.plan')\n",
        "hookplane.mapping.upward": "from hookplane.config.models import Mapping\n",
        "hookplane.errors": "from hookplane import config\n",
    }) == [
        "hookplane.config.bad:3: hookplane.plan.model: config may import only errors, "
        "mapping, presets",
        "hookplane.config.bad:5: hookplane.state.store: config may import only errors, "
        "mapping, presets",
        "hookplane.errors:1: hookplane.config: errors imports nothing from the package",
        "hookplane.mapping.sneaky:2: hookplane.plan: mapping may import only errors",
        "hookplane.mapping.upward:1: hookplane.config.models: mapping may import only errors",
    ]


def test_checker_resolves_relative_imports() -> None:
    assert _check({
        "hookplane.state.store": "from ..plan import diff\nfrom . import tables\n",
        "hookplane.runtime.__init__": "from .app import create_app\nfrom ..cli.main import run\n",
        "hookplane.config.loader": "from .models import SECTIONS\nfrom .. import errors\n",
    }) == [
        "hookplane.runtime:2: hookplane.cli.main: nothing outside cli imports cli",
        "hookplane.state.store:1: hookplane.plan: state may import only config, errors, mapping",
    ]


def test_checker_catches_libraries_in_the_wrong_layer() -> None:
    assert _check({
        "hookplane.plan.diff": "import httpx\n",
        "hookplane.config.models": "def f():\n    from sqlalchemy import select\n",
        "hookplane.mapping.engine": "import click\n",
        "hookplane.runtime.app": "import sqlalchemy.orm\nimport litestar\nimport httpx\n",
        "hookplane.cli.serve": "import uvicorn\nimport litestar\n",
        "hookplane.apply": "from alembic import command\n",
        "hookplane.state.db": "import sqlalchemy\nimport alembic\n",
        "hookplane.state.outbox": "import aiohttp\n",
    }) == [
        "hookplane.apply:1: alembic: only state may import alembic",
        "hookplane.cli.serve:2: litestar: only runtime may import litestar",
        "hookplane.config.models:2: sqlalchemy: config is pure and may not use sqlalchemy",
        "hookplane.mapping.engine:1: click: mapping is pure and may not use click",
        "hookplane.plan.diff:1: httpx: plan is pure and may not use httpx",
        "hookplane.runtime.app:1: sqlalchemy.orm: only state may import sqlalchemy",
        "hookplane.state.outbox:1: aiohttp: only runtime may import aiohttp",
    ]


def test_checker_enforces_apply_promote_and_runtime() -> None:
    assert _check({
        "hookplane.apply": "from hookplane.runtime import app\nfrom hookplane.state import Store\n",
        "hookplane.promote": "from hookplane.cli.common import now\nimport hookplane.plan\n",
        "hookplane.runtime.ingest": "from hookplane.plan import diff\nimport hookplane.state\n",
        "hookplane.cli.main": "from hookplane import __version__\nfrom hookplane.apply import x\n",
    }) == [
        "hookplane.apply:1: hookplane.runtime: apply may import only config, errors, mapping, "
        "plan, presets, state",
        "hookplane.promote:1: hookplane.cli.common: nothing outside cli imports cli",
        "hookplane.runtime.ingest:1: hookplane.plan: runtime may import only config, errors, "
        "mapping, presets, state",
    ]


# --------------------------------------------------------------------------- the state package

STATE = ENGINE / PACKAGE / "state"
MODULE_BUDGET = 700
"""Most lines a module of ``hookplane.state`` may have (DESIGN.md: small repositories)."""


def state_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the ``hookplane.state`` modules it imports (anywhere in its source, lazy
    and ``TYPE_CHECKING`` imports included); ``from hookplane.state import tables`` names
    the submodule, ``from hookplane.state import Store`` the package."""
    graph: dict[str, set[str]] = {}
    prefix = f"{PACKAGE}.state"
    for module, source in sources.items():
        is_package = module.endswith(".__init__")
        name = module.removesuffix(".__init__")
        targets: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = (_resolve_relative(name, is_package, node.level, node.module)
                        if node.level else node.module or "")
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.add(candidate if candidate in sources
                                or f"{candidate}.__init__" in sources else base)
        graph[name] = {target for target in targets
                       if (target == prefix or target.startswith(prefix + "."))
                       and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components of more than one
    module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _state_sources() -> dict[str, str]:
    sources: dict[str, str] = {}
    for path in sorted(STATE.rglob("*.py")):
        module, is_package = _module_name(path)
        sources[module + (".__init__" if is_package else "")] = path.read_text(encoding="utf-8")
    return sources


def test_the_state_package_has_no_import_cycle() -> None:
    graph = state_graph(_state_sources())
    assert "hookplane.state.records" in graph
    assert "hookplane.state.database" in graph["hookplane.state.store"]
    assert cycles(graph) == []
    # the Store is a facade: no repository reaches back into it (only the package re-exports it)
    assert [module for module, targets in graph.items()
            if "hookplane.state.store" in targets] == ["hookplane.state"]


def test_state_modules_keep_to_their_size_budget() -> None:
    sizes = {path.relative_to(STATE).as_posix(): len(path.read_text(encoding="utf-8")
                                                    .splitlines())
             for path in STATE.rglob("*.py")}
    assert "store.py" in sizes and "records.py" in sizes
    over = {name: size for name, size in sizes.items() if size > MODULE_BUDGET}
    assert over == {}, f"state modules over {MODULE_BUDGET} lines (split them): {over}"


def test_the_cycle_check_finds_cycles_wherever_the_import_is_written() -> None:
    graph = state_graph({
        "hookplane.state.__init__": "from hookplane.state.store import Store\n",
        "hookplane.state.store": ("def runtime():\n"
                                  "    from hookplane.state.runtime import RuntimeStore\n"),
        "hookplane.state.runtime": ("from typing import TYPE_CHECKING\n"
                                    "if TYPE_CHECKING:\n"
                                    "    from .store import Store\n"),
        "hookplane.state.outbox": "from hookplane.state import tables\n",
        "hookplane.state.tables": "import sqlalchemy\n",
        "hookplane.state.jobs": "from hookplane.state import Store\n",
    })
    assert graph["hookplane.state.outbox"] == {"hookplane.state.tables"}
    assert cycles(graph) == [["hookplane.state.runtime", "hookplane.state.store"]]
    graph["hookplane.state.store"].add("hookplane.state")
    assert cycles(graph) == [["hookplane.state", "hookplane.state.runtime",
                              "hookplane.state.store"]]
