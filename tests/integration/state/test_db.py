"""Where the state lives: the SQLite default, URLs, the key file, the secret key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from hookplane.errors import SecretError, StateError
from hookplane.state import Store, make_engine, redact_url
from hookplane.state.crypto import SecretBox, display_prefix, hash_token, new_token
from hookplane.state.db import resolve_url

from .conftest import ENV, apply_ops, trigger


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)


@pytest.mark.usefixtures("no_env")
def test_default_is_sqlite_under_dot_hookplane_with_a_private_key_file(root: Path) -> None:
    with Store.open(root=root) as store:
        apply_ops(store, trigger("notify"))
        assert store.url_display == f"sqlite:///{root.resolve()}/.hookplane/state.db"

    key_file = root / ".hookplane" / "secret.key"
    assert (root / ".hookplane" / "state.db").is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    SecretBox(key_file.read_text())  # a valid key
    with Store.open(root=root) as again:  # the same key is found again
        assert again.read_secret(ENV, "triggers", "notify", "signing_secret")


@pytest.mark.usefixtures("no_env")
def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(root: Path) -> None:
    engine = make_engine(None, root=root)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert conn.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
            assert conn.scalar(text("PRAGMA busy_timeout")) >= 10_000
    finally:
        engine.dispose()


@pytest.mark.usefixtures("no_env")
def test_a_key_file_others_can_read_is_refused(root: Path) -> None:
    Store.open(root=root).close()
    key_file = root / ".hookplane" / "secret.key"
    key_file.chmod(0o644)

    with pytest.raises(SecretError) as caught:
        Store.open(root=root)

    message = str(caught.value)
    assert "accessible by group or others (mode 0644)" in message
    assert f"chmod 600 {key_file}" in message
    assert key_file.read_text().strip() not in message


@pytest.mark.usefixtures("no_env")
def test_a_database_under_a_file_is_a_clear_error(root: Path) -> None:
    """A SQLite path whose parent is a file: an error naming the path, not a traceback."""
    (root / "a-file").write_text("not a directory")
    with pytest.raises(SecretError, match=r"cannot use key file .*a-file/secret\.key: Not a "
                                          r"directory"):
        Store.open(f"sqlite:///{root / 'a-file' / 'state.db'}", root=root)


@pytest.mark.usefixtures("no_env")
def test_the_database_url_variable_is_honoured(root: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("HOOKPLANE_DATABASE_URL", f"sqlite:///{elsewhere / 'state.db'}")

    with Store.open(root=root) as store:
        apply_ops(store, trigger("notify"))

    assert (elsewhere / "state.db").is_file()
    assert (elsewhere / "secret.key").is_file()
    assert not (root / ".hookplane").exists()


def test_postgresql_urls_get_the_psycopg_driver(root: Path) -> None:
    assert resolve_url("postgresql://u:p@db/hp", root=root, environ={}) == (
        "postgresql+psycopg://u:p@db/hp")
    assert resolve_url("postgres://u@db/hp", root=root, environ={}) == (
        "postgresql+psycopg://u@db/hp")
    assert resolve_url(None, root=root, environ={"HOOKPLANE_DATABASE_URL": "sqlite:///x.db"}) \
        == "sqlite:///x.db"
    assert resolve_url("sqlite:///given.db", root=root,
                       environ={"HOOKPLANE_DATABASE_URL": "sqlite:///x.db"}) == (
        "sqlite:///given.db")


def test_passwords_are_redacted_for_display() -> None:
    assert redact_url("postgresql+psycopg://hp:s3cret@db:5432/state") == (
        "postgresql+psycopg://hp:***@db:5432/state")
    assert redact_url("postgresql://hp@db/state") == "postgresql://hp@db/state"
    assert "s3cret" not in redact_url("not a url://hp:s3cret@db/state")


@pytest.mark.usefixtures("no_env")
def test_a_server_database_without_a_secret_key_is_refused(root: Path) -> None:
    with pytest.raises(SecretError, match="HOOKPLANE_SECRET_KEY is not set") as caught:
        Store.open("postgresql://hp:pw@127.0.0.1:1/state", root=root)

    assert "Fernet.generate_key" in str(caught.value)
    assert not (root / ".hookplane").exists()


@pytest.mark.parametrize("bad_key", ["not-a-key", "c2hvcnQ=", "x" * 44, "Zm9v" * 11 + "=" * 0])
def test_an_invalid_secret_key_is_explained_without_echoing_it(
        bad_key: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", bad_key)

    with pytest.raises(SecretError) as caught:
        Store.open(f"sqlite:///{root / 'state.db'}", root=root)

    message = str(caught.value)
    assert message.startswith("HOOKPLANE_SECRET_KEY is not a valid secret key")
    assert "Fernet.generate_key" in message
    assert bad_key not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unreachable_server_is_a_state_error_with_the_password_hidden(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())
    pytest.importorskip("psycopg")

    with pytest.raises(StateError, match="cannot use the state database") as caught:
        Store.open("postgresql://hp:pw-s3cret@127.0.0.1:1/state", root=root)

    assert "pw-s3cret" not in str(caught.value)
    assert "postgresql+psycopg://hp:***@127.0.0.1:1/state" in str(caught.value)


def test_an_unknown_database_scheme_is_a_state_error(root: Path) -> None:
    with pytest.raises(StateError, match="no database driver"):
        make_engine("nosuchdb://x/y", root=root)


def test_token_helpers() -> None:
    token = new_token()
    assert token.startswith("hpt_") and len(token) == 44
    assert token != new_token()
    assert hash_token(token) == hash_token(token) != hash_token(new_token())
    assert len(hash_token(token)) == 64
    assert display_prefix(token) == token[:12]


def test_key_file_is_created_with_mode_0600_even_under_a_permissive_umask(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    previous = os.umask(0)
    try:
        box = SecretBox.from_environment(key_file=root / "k" / "secret.key")
    finally:
        os.umask(previous)

    assert stat.S_IMODE((root / "k" / "secret.key").stat().st_mode) == 0o600
    assert box.decrypt(box.encrypt("x")) == "x"
    assert [p.name for p in (root / "k").iterdir()] == ["secret.key"]
