"""Symbolic links out of the project are refused: in plan-on-PR CI a pull request could
otherwise add ``environments/preview/x.yaml -> /etc/...`` (or a linked directory) and have
plan read — and echo in its errors — files of the CI host. Links that stay inside the
project keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookplane.cli.main import run
from hookplane.config import load_all
from hookplane.errors import ConfigError

SECRET_LINE = "host_secret_key: s3cr3t-on-the-ci-host\n"


def _project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "repo"
    env = root / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "credentials.yaml").write_text(SECRET_LINE)
    return root, outside


@pytest.mark.parametrize("kind", ["file", "directory", "environment"])
def test_a_link_leading_outside_the_project_is_refused(
        tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    root, outside = _project(tmp_path)
    env = root / "environments" / "preview"
    if kind == "file":
        (env / "leak.yaml").symlink_to(outside / "credentials.yaml")
        shown = "environments/preview/leak.yaml"
    elif kind == "directory":
        (env / "shared").symlink_to(outside, target_is_directory=True)
        shown = "environments/preview/shared"
    else:
        (env / "environment.yaml").unlink()
        (outside / "environment.yaml").write_text("name: preview\nkind: preview\n")
        (env / "environment.yaml").symlink_to(outside / "environment.yaml")
        shown = "environments/preview/environment.yaml"
    with pytest.raises(ConfigError) as refused:
        load_all(root)
    messages = [d.format() for d in refused.value.diagnostics]
    assert any(m.startswith(f"{shown}: is a symbolic link (or inside one) that leads "
                            "outside the project") for m in messages), messages
    assert run(["-C", str(root), "validate"]) == 1
    out = capsys.readouterr()
    assert "host_secret_key" not in out.out + out.err
    assert "s3cr3t" not in out.out + out.err


def test_links_inside_the_project_keep_working(tmp_path: Path) -> None:
    root, _ = _project(tmp_path)
    shared = root / "shared"
    shared.mkdir()
    (shared / "collections.yaml").write_text(
        "collections:\n  notes:\n    schema: {type: object}\n")
    (root / "environments" / "preview" / "collections.yaml").symlink_to(
        shared / "collections.yaml")
    config = load_all(root)["preview"]
    assert config.get("collections", "notes") is not None
