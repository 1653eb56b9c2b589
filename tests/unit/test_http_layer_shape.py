"""The runtime's HTTP layer keeps one shape (DESIGN.md, "Thin controllers"), checked on the
source with ``ast``:

- handlers are methods of ``Controller`` classes (the API's, the admin API's and the
  console's alike), never module-level ``@get``/``@post`` functions;
- they refuse with the domain errors of ``hookplane.errors``: no runtime module but
  ``runtime/problems.py`` (the one table from errors to statuses) imports Litestar's
  exceptions, so none can raise them;
- nothing looks services up in the application state (``request.app.state``,
  ``connection.app.state``, ``scope["app"].state``) but ``controllers/deps.py``, whose
  providers feed dependency injection and whose ``services_of`` serves the code that runs
  before it (guards, ``before_request`` hooks, exception handlers, middleware).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "engine" / "hookplane" / "runtime"
TABLE = "problems.py"
STATE_READER = "controllers/deps.py"
HANDLER_DECORATORS = frozenset({"get", "post", "put", "patch", "delete", "head", "route"})


def _is_app(node: ast.expr) -> bool:
    """``app``, ``….app`` or ``…["app"]``."""
    if isinstance(node, ast.Name):
        return node.id == "app"
    if isinstance(node, ast.Attribute):
        return node.attr == "app"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "app"
    return False


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return ""


def offences(source: str, relative: str) -> list[str]:
    """What ``source`` (the runtime module at ``relative``) does against the rules above."""
    found: list[str] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and relative != TABLE and (
                (node.module or "").startswith("litestar.exceptions")
                or (node.module == "litestar" and any(a.name == "exceptions"
                                                      for a in node.names))):
            found.append(f"{relative}:{node.lineno}: imports Litestar's exceptions")
        if isinstance(node, ast.Import) and relative != TABLE:
            found.extend(f"{relative}:{node.lineno}: imports Litestar's exceptions"
                         for alias in node.names
                         if alias.name.startswith("litestar.exceptions"))
        if isinstance(node, ast.Attribute) and node.attr == "state" and _is_app(node.value) \
                and relative != STATE_READER:
            found.append(f"{relative}:{node.lineno}: reads the application state")
    for node in tree.body:  # handlers at module level, outside a Controller
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                _decorator_name(d) in HANDLER_DECORATORS for d in node.decorator_list):
            found.append(f"{relative}:{node.lineno}: handler '{node.name}' outside a "
                         "Controller")
    return found


def _modules() -> list[tuple[str, str]]:
    return [(path.relative_to(RUNTIME).as_posix(), path.read_text(encoding="utf-8"))
            for path in sorted(RUNTIME.rglob("*.py"))]


def test_the_http_layer_keeps_its_shape() -> None:
    assert [o for relative, source in _modules() for o in offences(source, relative)] == []


def test_the_check_reads_the_console_and_the_controllers() -> None:
    names = {relative for relative, _ in _modules()}
    assert {"console/routes.py", "controllers/admin.py", "controllers/inbound.py",
            "controllers/records.py", STATE_READER, TABLE} <= names
    console = dict(_modules())["console/routes.py"]
    assert "class TriggerPages(BaseController)" in console  # handlers live in controllers


@pytest.mark.parametrize(("source", "offence"), [
    ("from litestar.exceptions import NotFoundException\n"
     "def f():\n    raise NotFoundException('no')\n", "imports Litestar's exceptions"),
    ("from litestar.exceptions.http_exceptions import HTTPException\n",
     "imports Litestar's exceptions"),
    ("import litestar.exceptions\n", "imports Litestar's exceptions"),
    ("from litestar import exceptions\n", "imports Litestar's exceptions"),
    ("def f(request):\n    return request.app.state.services\n", "reads the application state"),
    ("def f(connection):\n    return connection.app.state['services']\n",
     "reads the application state"),
    ("def f(scope):\n    return scope['app'].state.services.metrics\n",
     "reads the application state"),
    ("from litestar import get\n@get('/x')\nasync def page() -> str:\n    return ''\n",
     "handler 'page' outside a Controller"),
])
def test_the_check_catches(source: str, offence: str) -> None:
    found = offences(source, "console/routes.py")
    assert len(found) == 1 and offence in found[0], found


def test_the_check_allows_the_table_and_the_providers() -> None:
    assert offences("from litestar.exceptions import HTTPException\n", TABLE) == []
    assert offences("def f(app):\n    return app.state['services']\n", STATE_READER) == []
    assert offences("from litestar import Controller, get\nclass C(Controller):\n"
                    "    @get('/x')\n    async def page(self) -> str:\n        return ''\n",
                    "controllers/x.py") == []
