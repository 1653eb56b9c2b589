"""Fixtures and helpers for the state store suite (runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, func, select, text

import hookplane
from hookplane.state import AuditRecord, Create, Store

ENV = "preview"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    return project


@pytest.fixture
def store(database_url: str, root: Path) -> Iterator[Store]:
    with Store.open(database_url, root=root) as opened:
        yield opened


def audit(action: str = "apply", **details: Any) -> AuditRecord:
    return AuditRecord(action=action, actor="alice", git_commit="0123abcd",
                       plan_digest="sha256:feed", details=details)


def trigger(name: str, url: str = "https://example.test/hook") -> Create:
    return Create(kind="triggers", name=name,
                  spec={"collection": "incidents", "url": url, "events": ["create"]},
                  values={}, generate=("signing_secret",))


def apply_ops(store: Store, *operations: Any, environment: str = ENV) -> Any:
    """Commit ``operations`` against the current snapshot."""
    snap = store.snapshot(environment)
    return store.commit(environment, environment_kind="preview",
                        expected_lineage=snap.lineage, expected_serial=snap.serial,
                        operations=list(operations), audit=audit())


def _engine(url: str) -> Any:
    return create_engine(url)


def table_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, read straight from the database."""
    engine = _engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {name: [dict(row._mapping) for row in conn.execute(select(table))]
                    for name, table in sorted(metadata.tables.items())}
    finally:
        engine.dispose()


def row_counts(url: str) -> dict[str, int]:
    engine = _engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
                    for name, table in sorted(metadata.tables.items())}
    finally:
        engine.dispose()


def dump(url: str) -> str:
    """All table contents as text, plus the raw SQLite files when there are any."""
    text_dump = repr(table_rows(url))
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):
            text_dump += path.read_bytes().decode("latin-1")
    return text_dump


def execute(url: str, sql: str, **params: Any) -> None:
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def run_together(script: str, *argvs: list[str]) -> list[dict[str, Any]]:
    """Run ``python -c script`` once per argv, all released at the same moment.

    Each child prints ``ready`` once it is set up, waits for a line on stdin, does its work,
    prints one JSON line and exits. Returns the JSON results in argv order.
    """
    # The children import the same hookplane as this process, whatever is installed.
    source = str(Path(hookplane.__file__).resolve().parents[1])
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    children = [subprocess.Popen([sys.executable, "-c", script, *argv], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=env)
                for argv in argvs]
    lines: list[str] = []
    try:
        for child in children:
            assert child.stdout is not None
            ready = child.stdout.readline().strip()
            if ready != "ready":
                break
        else:
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            for child in children:
                assert child.stdout is not None
                lines.append(child.stdout.readline())
    finally:
        errors = []
        for child in children:
            _out, err = child.communicate(timeout=120)
            errors.append(err)
    assert all(child.returncode == 0 for child in children), errors
    assert len(lines) == len(children) and all(lines), errors
    return [json.loads(line) for line in lines]
