"""Migrations: applied by Store.open, idempotent, safe when processes open at once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from hookplane.state import Store, make_engine
from hookplane.state.migrate import current_revision, head_revision, upgrade
from hookplane.state.tables import metadata

from .conftest import ENV, apply_ops, row_counts, run_together, trigger


def test_open_migrates_to_head_and_running_again_changes_nothing(database_url: str,
                                                                 root: Path) -> None:
    with Store.open(database_url, root=root) as store:
        apply_ops(store, trigger("notify"))
        before = store.snapshot(ENV)
    counts = row_counts(database_url)

    engine = make_engine(database_url, root=root)
    try:
        assert current_revision(engine) == head_revision() == "0007"
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == "0007"
    finally:
        engine.dispose()
    with Store.open(database_url, root=root) as store:
        assert store.snapshot(ENV) == before
    assert row_counts(database_url) == counts


def test_the_migrations_create_exactly_the_tables_the_code_uses(database_url: str,
                                                                root: Path) -> None:
    Store.open(database_url, root=root).close()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()

    assert differences == []


_OPENER = """
import json, sys
from pathlib import Path
from hookplane.state import Store

url, root = sys.argv[1:3]
print("ready", flush=True)
sys.stdin.readline()
with Store.open(url, root=Path(root)) as store:
    print(json.dumps({"serial": store.serial("preview"), "url": store.url_display}), flush=True)
"""


def test_processes_opening_a_new_database_at_once_all_succeed(database_url: str,
                                                              root: Path) -> None:
    results = run_together(_OPENER, *([database_url, str(root)] for _ in range(4)))

    assert [r["serial"] for r in results] == [0, 0, 0, 0]
    with Store.open(database_url, root=root) as store:
        apply_ops(store, trigger("notify"))  # the key all of them agreed on still works
        assert store.read_secret(ENV, "triggers", "notify", "signing_secret")
    engine = make_engine(database_url, root=root)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_database_at_0001_is_upgraded_to_the_runtime_tables_keeping_its_state(
        database_url: str, root: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from hookplane.state.migrate import alembic_config

    engine = make_engine(database_url, root=root)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
        assert current_revision(engine) == "0001"
        assert "records" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO environments (name, kind, lineage, serial, "
                              "updated_at) VALUES ('preview', 'preview', :lineage, 7, :at)"),
                         {"lineage": "a" * 32, "at": datetime.now(UTC)})
    finally:
        engine.dispose()

    with Store.open(database_url, root=root) as store:
        assert current_revision(store.database.engine) == head_revision()
        assert (store.serial(ENV), store.snapshot(ENV).lineage) == (7, "a" * 32)
        apply_ops(store, trigger("notify"))
        before = store.snapshot(ENV)
        record = store.runtime().create(ENV, "incidents", {"t": 1}, origin="api")
        assert store.runtime().get(ENV, "incidents", record.id) == record

    engine = make_engine(database_url, root=root)
    try:
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0001")
        names = set(inspect(engine).get_table_names())
        assert not names & {"records", "outbox", "delivery_attempts", "inbound_deliveries",
                            "jobs", "seen_deliveries"}
        assert current_revision(engine) == "0001"
    finally:
        engine.dispose()
    with Store.open(database_url, root=root) as store:
        assert store.snapshot(ENV) == before
