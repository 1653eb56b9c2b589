"""``hookplane --version``: the version and the state schema revision it migrates to."""

from __future__ import annotations

from click.testing import CliRunner

from hookplane.cli.main import cli


def test_version_names_the_state_schema_revision() -> None:
    from hookplane import __version__
    from hookplane.state.migrate import head_revision

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == (f"hookplane, version {__version__} "
                             f"(state schema revision {head_revision()})\n")
    assert head_revision() == "0007"
