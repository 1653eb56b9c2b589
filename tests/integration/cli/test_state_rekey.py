"""``hookplane state rekey`` re-encrypts the state under a new key, all or nothing, and
``hookplane doctor`` checks what a machine needs to run Hookplane against its state; on
SQLite (with its key file) and PostgreSQL (with HOOKPLANE_SECRET_KEY)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from hookplane.errors import SecretError
from hookplane.state.crypto import KEY_FILE_NAME, stage_key_file
from hookplane.state.store import Store
from tests.integration.cli import test_plan_apply
from tests.integration.cli.test_plan_apply import Cli

project = test_plan_apply.project  # the demo project; no secret may appear in any output


def _state(project: Cli, url: str) -> dict[str, Any]:
    """Every generated secret's value and every resource's stored fingerprints."""
    with Store.open(url, root=project.root) as store:
        found: dict[str, Any] = {}
        for resource in store.snapshot("preview").resources.values():
            found[resource.address] = dict(resource.fingerprints)
            for kind in resource.generated:
                if kind in ("signing_secret", "hmac_secret"):
                    found[f"{resource.address}/{kind}"] = store.read_secret(
                        "preview", resource.kind, resource.name, kind)
        return found


def _key_file(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    return Path(url.removeprefix("sqlite:///")).parent / KEY_FILE_NAME


def test_rekey_re_encrypts_everything_and_the_old_key_no_longer_opens_it(
        project: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project("apply", "preview", "--auto-approve")
    before = _state(project, database_url)
    assert any(key.endswith("/signing_secret") for key in before)
    key_file = _key_file(database_url)
    old_key = (key_file.read_text().strip() if key_file is not None
               else os.environ["HOOKPLANE_SECRET_KEY"])
    new_key = Fernet.generate_key().decode()
    if key_file is None:
        monkeypatch.setenv("HOOKPLANE_NEW_SECRET_KEY", new_key)

    out = project("state", "rekey", "--yes")
    assert "Re-encrypted" in out and "recorded as 'rekey'" in out
    assert old_key not in out and new_key not in out
    if key_file is not None:  # the key file now holds a new key; nothing left staged
        new_key = key_file.read_text().strip()
        assert new_key != old_key and not key_file.with_name(KEY_FILE_NAME + ".new").exists()
        assert "key file" in out
    else:
        assert "Now set HOOKPLANE_SECRET_KEY" in out
        monkeypatch.setenv("HOOKPLANE_SECRET_KEY", new_key)

    after = _state(project, database_url)
    secrets = {k: v for k, v in after.items() if "/" in k}
    assert secrets == {k: v for k, v in before.items() if "/" in k}  # same values
    # fingerprints are keyed: every stored one changed, and the plan still sees no change
    changed = [k for k, v in after.items() if "/" not in k and v and v != before[k]]
    assert changed and all(after[k] != before[k] for k in changed)
    assert "No changes" in project("plan", "preview")
    assert "rekey by alice" in project("history", "preview")

    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", old_key)
    with pytest.raises(SecretError, match="does not match"):
        Store.open(database_url, root=project.root)
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", new_key)


def test_a_process_that_opened_the_state_before_the_rekey_refuses_to_write_secrets(
        project: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project("apply", "preview", "--auto-approve")
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", os.environ.get("HOOKPLANE_SECRET_KEY") or
                       _key_file(database_url).read_text().strip())  # type: ignore[union-attr]
    new_key = Fernet.generate_key().decode()
    with Store.open(database_url, root=project.root) as stale, \
            Store.open(database_url, root=project.root) as rekeying:
        rekeying.rekey(new_key, actor="test")
        with pytest.raises(SecretError, match="re-keyed after this process opened it"):
            stale.rotate_secret("preview", "triggers", "notify-slack-p1", "signing_secret")
        # the re-keying process itself carries on under the new key
        assert rekeying.rotate_secret("preview", "triggers", "notify-slack-p1",
                                      "signing_secret").startswith("whsec_")
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", new_key)
    assert "rotated" in project("plan", "preview")


def test_rekey_without_a_new_key_says_where_to_put_it(
        project: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if database_url.startswith("sqlite"):  # the key file case generates one itself
        monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("HOOKPLANE_NEW_SECRET_KEY", raising=False)
    out = project("state", "rekey", "--yes", code=1)
    assert "set HOOKPLANE_NEW_SECRET_KEY to the new key" in out


def test_an_interrupted_rekey_is_finished_when_the_state_is_next_opened(
        project: Cli, database_url: str) -> None:
    """The database switched but the process died before the staged key replaced the key
    file: the next open finds the staged key matching the database and puts it in place."""
    key_file = _key_file(database_url)
    if key_file is None:
        pytest.skip("a key file exists only for the embedded SQLite state")
    project("apply", "preview", "--auto-approve")
    before = _state(project, database_url)
    new_key = Fernet.generate_key().decode()
    stage_key_file(key_file, new_key)
    with Store.open(database_url, root=project.root) as store:
        store.rekey(new_key, actor="test")  # ... and the process dies here
    assert key_file.read_text().strip() != new_key
    assert _state(project, database_url)["triggers.notify-slack-p1/signing_secret"] == \
        before["triggers.notify-slack-p1/signing_secret"]
    assert key_file.read_text().strip() == new_key
    assert (os.stat(key_file).st_mode & 0o777) == 0o600


# ------------------------------------------------------------------------------- doctor


def test_doctor_passes_on_a_sound_state_and_names_what_is_missing(
        project: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project("apply", "preview", "--auto-approve")
    out = project("doctor")
    assert "FAIL" not in out and "No problems found" in out
    assert "stored secret(s) and value set(s) decrypt" in out
    assert "migrated to revision" in out
    assert ("clock: the database is embedded" in out if database_url.startswith("sqlite")
            else "from the database server's" in out)
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    missing = project("doctor", "preview", code=1)
    assert "FAIL environments/preview:" in missing and "not set here: SLACK_WEBHOOK_URL" in missing


def test_doctor_fails_on_a_wrong_key_without_showing_it(
        project: Cli, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project("apply", "preview", "--auto-approve")
    right = os.environ.get("HOOKPLANE_SECRET_KEY")
    wrong = Fernet.generate_key().decode()
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", wrong)
    out = project("doctor", code=1)
    assert "FAIL state database:" in out and "secret key does not match" in out
    assert wrong not in out
    if right is None:
        monkeypatch.delenv("HOOKPLANE_SECRET_KEY")
    else:
        monkeypatch.setenv("HOOKPLANE_SECRET_KEY", right)
