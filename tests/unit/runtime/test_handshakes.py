"""Provider handshakes and form bodies, as pure functions (the HTTP path is in
tests/integration/runtime/test_handshakes.py).

Expected answers are computed here from the providers' documentation: Slack echoes
``challenge``; Zoom's ``encryptedToken`` is the hex HMAC-SHA256 of ``plainToken`` keyed with
the Secret Token; Twitch's challenge is echoed as the raw text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookplane.runtime.handshakes import Answer, answer
from hookplane.runtime.ingest import MAX_FORM_FIELDS, parse_form

SECRET = "zoom-secret-token-value"


def _answer(auth_type: str, payload: Any, headers: dict[str, str] | None = None,
            secret: str | None = SECRET) -> Answer | None:
    return answer(auth_type, headers=headers or {}, payload=payload, secret=secret)


# --------------------------------------------------------------------------- slack


def test_slack_url_verification_echoes_the_challenge() -> None:
    # api.slack.com/events/url_verification
    payload = {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
               "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert _answer("slack", payload) == Answer(
        200, "handshake", "slack url_verification: challenge echoed",
        json={"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})


@pytest.mark.parametrize("payload", [
    {"type": "event_callback", "event": {"type": "app_mention"}, "challenge": "x"},
    {"type": "block_actions", "actions": []},
    {"command": "/deploy", "text": "url_verification"},
    ["url_verification"],
    "url_verification",
])
def test_slack_events_are_not_handshakes(payload: Any) -> None:
    assert _answer("slack", payload) is None


@pytest.mark.parametrize("challenge", [None, 12, "", "x" * 1025, ["a"]])
def test_slack_url_verification_without_a_challenge_is_a_400(challenge: Any) -> None:
    found = _answer("slack", {"type": "url_verification", "challenge": challenge})
    assert found is not None and (found.status, found.reason) == (400, "bad_handshake")
    assert found.json is not None and "challenge" in found.json["error"]


# --------------------------------------------------------------------------- zoom


def test_zoom_url_validation_answers_the_encrypted_token() -> None:
    # developers.zoom.us "Validate your webhook endpoint": encryptedToken =
    # crypto.createHmac('sha256', secretToken).update(plainToken).digest('hex')
    payload = {"payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, "event_ts": 1654503849680,
               "event": "endpoint.url_validation"}
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    found = _answer("zoom", payload)
    assert found is not None
    assert (found.status, found.reason, found.text) == (200, "handshake", None)
    assert found.json == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    assert SECRET not in found.detail


def test_zoom_answers_with_the_secret_that_signed() -> None:
    payload = {"event": "endpoint.url_validation", "payload": {"plainToken": "abc"}}
    first, second = (_answer("zoom", payload, secret=s) for s in ("old-token", "new-token"))
    assert first is not None and second is not None and first.json and second.json
    assert first.json["encryptedToken"] != second.json["encryptedToken"]


@pytest.mark.parametrize("payload", [
    {"event": "endpoint.url_validation"},
    {"event": "endpoint.url_validation", "payload": "abc"},
    {"event": "endpoint.url_validation", "payload": {"plainToken": 7}},
    {"event": "endpoint.url_validation", "payload": {"plainToken": ""}},
])
def test_zoom_url_validation_without_a_plain_token_is_a_400(payload: Any) -> None:
    found = _answer("zoom", payload)
    assert found is not None and (found.status, found.reason) == (400, "bad_handshake")


def test_zoom_events_are_not_handshakes() -> None:
    assert _answer("zoom", {"event": "meeting.started", "payload": {"plainToken": "x"}}) is None


# --------------------------------------------------------------------------- twitch

CHALLENGE = "pogchamp-kappa-360noscope-vohiyo"
SUBSCRIPTION = {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "status":
                "webhook_callback_verification_pending", "type": "channel.follow",
                "version": "2", "condition": {"broadcaster_user_id": "12826"}}


def _type(kind: str) -> dict[str, str]:
    return {"Twitch-Eventsub-Message-Type": kind}


def test_twitch_callback_verification_echoes_the_raw_challenge() -> None:
    # dev.twitch.tv "Responding to a challenge request": 200, the challenge as text/plain
    found = _answer("twitch", {"challenge": CHALLENGE, "subscription": SUBSCRIPTION},
                    _type("webhook_callback_verification"))
    assert found == Answer(200, "handshake", "twitch webhook_callback_verification "
                           "channel.follow f1c2a387-161a-49f9-a165-0f21d7a4e1c4: "
                           "challenge echoed", text=CHALLENGE)


def test_twitch_revocation_is_a_204_with_the_reason_logged() -> None:
    revoked = {**SUBSCRIPTION, "status": "authorization_revoked"}
    found = _answer("twitch", {"subscription": revoked}, _type("revocation"))
    assert found is not None
    assert (found.status, found.reason, found.json, found.text) == (204, "revocation", None,
                                                                     None)
    assert found.detail == ("twitch revoked subscription channel.follow "
                            "f1c2a387-161a-49f9-a165-0f21d7a4e1c4: authorization_revoked")


@pytest.mark.parametrize("headers", [
    _type("notification"),
    _type("something_new"),
    {},
])
def test_twitch_notifications_are_events(headers: dict[str, str]) -> None:
    payload = {"subscription": SUBSCRIPTION, "event": {"user_id": "1"}, "challenge": "x"}
    assert _answer("twitch", payload, headers) is None


def test_twitch_message_type_sent_twice_with_different_values_is_an_event() -> None:
    class Lines(dict[str, str]):  # a multi-dict such as Litestar's Headers
        def getall(self, name: str, default: list[str]) -> list[str]:
            return ["webhook_callback_verification", "notification"] \
                if name == "twitch-eventsub-message-type" else default

    event = {"challenge": CHALLENGE, "event": {"user_id": "1"}}
    assert _answer("twitch", event, Lines()) is None
    # without an event it is no notification either: refused, the challenge not echoed
    found = _answer("twitch", {"challenge": CHALLENGE}, Lines())
    assert found is not None and (found.status, found.reason) == (400, "bad_handshake")
    assert CHALLENGE not in str(found.json)


@pytest.mark.parametrize("headers", [_type("notification"), _type("something_new"), {}])
@pytest.mark.parametrize("payload", [
    {"challenge": CHALLENGE, "subscription": SUBSCRIPTION},
    {"subscription": {**SUBSCRIPTION, "status": "authorization_revoked"}},
    {},
])
def test_a_twitch_body_without_an_event_is_not_a_notification(
        headers: dict[str, str], payload: dict[str, object]) -> None:
    found = _answer("twitch", payload, headers)
    assert found is not None and (found.status, found.reason) == (400, "bad_handshake")


def test_batched_twitch_notifications_are_events() -> None:
    payload = {"subscription": SUBSCRIPTION, "events": [{"id": "1", "data": {}}]}
    assert _answer("twitch", payload, _type("notification")) is None


def test_twitch_callback_verification_without_a_challenge_is_a_400() -> None:
    found = _answer("twitch", {"subscription": SUBSCRIPTION},
                    _type("webhook_callback_verification"))
    assert found is not None and (found.status, found.reason) == (400, "bad_handshake")


@pytest.mark.parametrize("auth_type", ["hmac", "github", "stripe", "standard_webhooks",
                                       "shopify", "pagerduty", "bearer"])
def test_other_types_have_no_handshake(auth_type: str) -> None:
    for payload in ({"type": "url_verification", "challenge": "x"},
                    {"event": "endpoint.url_validation", "payload": {"plainToken": "x"}},
                    {"challenge": "x"}):
        assert _answer(auth_type, payload, _type("webhook_callback_verification")) is None


# --------------------------------------------------------------------------- form bodies


def test_slack_interactivity_payload_is_its_json() -> None:
    # api.slack.com "Handling user interaction": one field, payload=<url-encoded JSON>
    interaction = {"type": "block_actions", "user": {"id": "U0CA5"}, "actions": [
        {"action_id": "approve", "value": "deploy 42 → prod"}]}
    body = urllib.parse.urlencode({"payload": json.dumps(interaction)}).encode()
    assert parse_form(body) == interaction


def test_slack_slash_command_is_a_flat_object() -> None:
    # api.slack.com "Slash commands": the fields as sent
    body = (b"token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example"
            b"&channel_id=C2147483705&channel_name=test&user_id=U2147483697&user_name=Steve"
            b"&command=%2Fweather&text=94070&api_app_id=A123456"
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678"
            b"&trigger_id=13345224609.738474920.8088930838d88f008e0")
    fields = parse_form(body)
    assert fields["command"] == "/weather"
    assert fields["response_url"] == "https://hooks.slack.com/commands/1234/5678"
    assert fields["text"] == "94070" and len(fields) == 12


def test_form_values_keep_blanks_and_decode_plus_and_utf8() -> None:
    assert parse_form(b"text=&command=%2Fsay&x=caf%C3%A9+ok") == {
        "text": "", "command": "/say", "x": "café ok"}


@pytest.mark.parametrize("body", [
    b"",
    b"a=1&a=2",
    b"payload=%5B1%5D",
    b"payload=not-json",
    b"payload=%7B%22a%22%3A+NaN%7D",
    b"x=%FF",
    b"\xff=1",
    b"x=%00",
    b"novalue",
    b"&".join(b"f%d=1" % i for i in range(MAX_FORM_FIELDS + 1)),
])
def test_malformed_forms_are_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_form(body)


def test_a_form_with_payload_and_other_fields_is_flat() -> None:
    assert parse_form(b"payload=%7B%7D&command=%2Fx") == {"payload": "{}", "command": "/x"}


@given(st.binary(max_size=200))
def test_parse_form_answers_an_object_or_a_value_error(body: bytes) -> None:
    try:
        result = parse_form(body)
    except (ValueError, RecursionError):
        return
    assert isinstance(result, dict)
