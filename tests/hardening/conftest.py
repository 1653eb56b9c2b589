"""The hardening suite. Every scenario runs at its short size by default; with
``HOOKPLANE_HARDENING_LONG=1``, or when the ``long`` marker is selected (``-m long``, which
selects this suite: every test here carries it), they run at their long size."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.backends import BACKENDS, module_database
from tests.hardening.figures import LONG_ENV
from tests.hardening.support import Runtime, runtime_on

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    if "long" in (config.getoption("markexpr", default="") or ""):
        os.environ[LONG_ENV] = "1"  # read when the test modules are imported


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.long)


@pytest.fixture(scope="package", params=BACKENDS)
def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[Runtime]:
    """The runtime project on a real server, on SQLite and on PostgreSQL, shared by the
    fuzzers of this package."""
    root = tmp_path_factory.mktemp("fuzzed-runtime")
    with module_database(request, root) as url, runtime_on(root, url) as runtime:
        yield runtime
