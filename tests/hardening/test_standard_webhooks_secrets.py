"""Standard Webhooks secrets exactly as the specification and its official libraries treat
them: the key is the base64 decoding of the secret, with or without the ``whsec_`` prefix.
Hookplane used an unprefixed secret's raw bytes, so deliveries signed by an SDK failed inbound
and SDK verifiers failed on Hookplane's outbound signatures. A ``whsec_`` value that is not
base64 is an apply error, not a delivery that fails at runtime.

The vector is the one the Standard Webhooks / Svix documentation publishes (secret
``whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw``, id ``msg_p5jXN8AQM9LWM0D4loKWxJek``, timestamp
1614265330, body ``{"test": 2432232314}``); the ``standardwebhooks`` library also checks it.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from hookplane.cli.main import run
from hookplane.config.models import Auth
from hookplane.runtime.signing import sign
from hookplane.runtime.verify import verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("secret", [SECRET, SECRET.removeprefix("whsec_")])
def test_the_published_vector_signs_and_verifies(secret: str) -> None:
    headers = sign(secrets=[secret], body=BODY, message_id=MSG_ID, timestamp=TIMESTAMP,
                   event="create")
    assert headers["webhook-signature"] == SIGNATURE
    inbound = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP),
               "webhook-signature": SIGNATURE}
    result = verify(Auth(type="standard_webhooks"), headers=inbound, body=BODY,
                    secrets=(secret,), token_hashes=(), now=TIMESTAMP + 10)
    assert result.ok, result.detail


@pytest.mark.parametrize("secret", [SECRET, SECRET.removeprefix("whsec_")])
def test_the_official_library_and_hookplane_agree_both_ways(secret: str) -> None:
    now = datetime.now(UTC)
    sdk = Webhook(secret)
    signed = sdk.sign(MSG_ID, now, BODY.decode())
    inbound = {"webhook-id": MSG_ID, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": signed}
    assert verify(Auth(type="standard_webhooks"), headers=inbound, body=BODY,
                  secrets=(secret,), token_hashes=()).ok
    ours = sign(secrets=[secret], body=BODY, message_id=MSG_ID,
                timestamp=int(now.timestamp()), event="create")
    sdk.verify(BODY, {k: v for k, v in ours.items() if k.startswith("webhook-")})


def test_a_whsec_secret_that_is_not_base64_is_an_apply_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent("""\
        collections:
          notes: {schema: {type: object}}
        triggers:
          t:
            collection: notes
            events: [create]
            url: https://hooks.example.com/t
            signing: {secret: "${env:T_SECRET}"}
        inbound_webhooks:
          sw: {collection: notes, auth: {type: standard_webhooks, secret: "${env:SW_SECRET}"}}
          stripe: {collection: notes, auth: {type: stripe, secret: "${env:STRIPE_SECRET}"}}
        """))
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.setenv("T_SECRET", "whsec_not*base64!")
    monkeypatch.setenv("SW_SECRET", "whsec_%%%%")
    monkeypatch.setenv("STRIPE_SECRET", "whsec_stripe_style_not_base64_is_fine")
    status = run(["-C", str(tmp_path), "apply", "preview", "--auto-approve"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert ("triggers.t: the value behind signing.secret starts with 'whsec_' but is not "
            "valid base64 after it") in err
    assert "inbound_webhooks.sw: the value behind auth.secret starts with 'whsec_'" in err
    assert "inbound_webhooks.stripe" not in err  # Stripe's whsec_ secrets are text
    assert "not*base64" not in err and "%%%%" not in err  # the value is never shown
