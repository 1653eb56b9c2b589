"""``Preset.stored``: the credentials a provider puts in the body (Graph's ``clientState``,
Mailgun's signature, Slack's verification token) are taken out of the record, whatever shape
the rest of the body has; the input is not changed (the delivery id is read from it first)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hookplane.presets import PRESETS


def test_graph_client_state_is_taken_out_of_every_notification() -> None:
    stored = PRESETS["msgraph"].stored
    assert stored is not None
    payload = {"value": [{"clientState": "s3cret", "resource": "a"}, "odd", {"resource": "b"}],
               "other": 1}
    before = copy.deepcopy(payload)
    assert stored(payload) == {"value": [{"resource": "a"}, "odd", {"resource": "b"}],
                               "other": 1}
    assert payload == before


def test_mailgun_signature_is_taken_out_timestamp_and_token_kept() -> None:
    stored = PRESETS["mailgun"].stored
    assert stored is not None
    payload = {"signature": {"timestamp": "1", "token": "t", "signature": "ab" * 32},
               "event-data": {"event": "delivered"}}
    assert stored(payload) == {"signature": {"timestamp": "1", "token": "t"},
                               "event-data": {"event": "delivered"}}
    assert payload["signature"]["signature"] == "ab" * 32


def test_slack_verification_token_is_taken_out() -> None:
    """Slack's deprecated verification token rides in every body (Events API, interactions,
    slash-command forms): a credential, never a record field."""
    stored = PRESETS["slack"].stored
    assert stored is not None
    payload = {"token": "XXYYZZ", "team_id": "T1", "event": {"type": "app_mention"}}
    assert stored(payload) == {"team_id": "T1", "event": {"type": "app_mention"}}
    assert payload["token"] == "XXYYZZ"


@pytest.mark.parametrize("name", ["msgraph", "mailgun"])
@pytest.mark.parametrize("payload", [{}, {"value": "x"}, {"value": None}, {"signature": [1]},
                                     {"signature": "x"}, {"value": [[1]]}])
def test_other_shapes_pass_through(name: str, payload: dict[str, Any]) -> None:
    stored = PRESETS[name].stored
    assert stored is not None
    assert stored(payload) == payload


def test_only_presets_with_credentials_in_the_body_rewrite_it() -> None:
    assert sorted(name for name, preset in PRESETS.items() if preset.stored) == [
        "mailgun", "msgraph", "slack"]
