"""``hookplane serve``'s uvicorn settings install the request-head deadline (slowloris)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from hookplane.cli.main import cli
from hookplane.runtime.app import server_config
from hookplane.runtime.protocol import DEFAULT_HEAD_SECONDS, HeadDeadlineProtocol

APP: Any = None  # server_config only wraps the application; none is needed to read settings


def test_serve_installs_a_ten_second_head_deadline_by_default() -> None:
    config = server_config(APP, host="127.0.0.1", port=0)
    assert isinstance(config.http, type) and issubclass(config.http, HeadDeadlineProtocol)
    assert config.http.head_seconds == DEFAULT_HEAD_SECONDS == 10.0


def test_head_deadline_is_configurable_per_server() -> None:
    short = server_config(APP, host="127.0.0.1", port=0, head_seconds=2.5)
    default = server_config(APP, host="127.0.0.1", port=0)
    assert isinstance(short.http, type) and issubclass(short.http, HeadDeadlineProtocol)
    assert short.http.head_seconds == 2.5
    assert isinstance(default.http, type) and default.http.head_seconds == 10.0


@pytest.mark.parametrize("seconds", [0, -1.0])
def test_head_deadline_must_be_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        server_config(APP, host="127.0.0.1", port=0, head_seconds=seconds)


def test_serve_refuses_a_head_timeout_below_a_tenth_of_a_second() -> None:
    result = CliRunner().invoke(cli, ["serve", "--head-timeout", "0"])
    assert result.exit_code == 2
    assert "--head-timeout" in result.output
