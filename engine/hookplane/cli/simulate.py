"""``hookplane inbound-webhooks simulate ENV NAME``: sign an event the way the webhook's
provider would, with the secret the webhook has in state, and send it to a running server —
so an integration can be tried before the provider is connected.

The event is ``--event FILE`` or the preset's sample (``docs/reference/samples/``). The
request goes to ``{server}/inbound/{env}/{id}/ingest`` (``--server``, else
``HOOKPLANE_SERVER_URL``/``HOOKPLANE_PUBLIC_URL``/``http://127.0.0.1:8080``); a preset that
signs the URL (Twilio, Square, HubSpot) signs ``HOOKPLANE_PUBLIC_URL`` + that path, as the
server rebuilds it. Discord and SendGrid sign with the provider's private key, which Hookplane
never has: pass a test key pair's private half with ``--private-key`` (and its public half as
``auth.public_key``). ``--curl`` prints the request as a curl command instead of sending it.
The secret itself is never printed (``--curl`` prints only the signature it makes).
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

import click

from hookplane.cli.common import database_url_option, open_store, resource_name
from hookplane.cli.main import Context
from hookplane.errors import HookplaneError, StateError

KIND = "inbound_webhooks"


def add_command(group: click.Group) -> None:
    @group.command("simulate")
    @click.argument("environment")
    @click.argument("name")
    @click.option("--event", "event_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="The event body to send (default: the provider's sample event).")
    @click.option("--server", default=None,
                  help="The running server (default: $HOOKPLANE_SERVER_URL, "
                       "$HOOKPLANE_PUBLIC_URL, http://127.0.0.1:8080).")
    @click.option("--private-key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="discord: a test Ed25519 key's 64 hex digits; sendgrid: a test ECDSA "
                       "P-256 key in PEM.")
    @click.option("--curl", "as_curl", is_flag=True,
                  help="Print the signed request as a curl command; send nothing.")
    @database_url_option
    @click.pass_obj
    def simulate(obj: Context, environment: str, name: str, *, event_file: Path | None,
                 server: str | None, key_file: Path | None, as_curl: bool,
                 database_url: str | None) -> int:
        """Sign an event as the webhook's provider would and send it to a running server."""
        from hookplane.cli.admin_client import send, server_url
        from hookplane.cli.provider_docs import sample_body
        from hookplane.presets import PRESETS

        with open_store(obj.root, database_url) as store:
            name = resource_name(store, environment, KIND, name)
            resource = store.snapshot(environment).resources.get(f"{KIND}.{name}")
            if resource is None:
                raise StateError(f"no applied {KIND}.{name} in '{environment}' (apply it first?)")
            auth_type = str((resource.spec.get("auth") or {}).get("type", "hmac"))
            preset = PRESETS[auth_type]
            if preset.sign is None:
                raise HookplaneError(f"inbound webhook '{name}' uses auth type '{auth_type}', "
                                     "which a provider does not sign: send it your own way")
            if preset.signs_with_private_key:
                if key_file is None:
                    raise HookplaneError(f"{preset.title} signs with its private key, which "
                                         "Hookplane never has: pass a test key pair's private "
                                         "half with --private-key FILE and apply its public "
                                         "half as auth.public_key")
                secret = _read(key_file, "--private-key")
            else:
                if key_file is not None:
                    raise HookplaneError(f"--private-key applies to discord and sendgrid, not "
                                         f"'{auth_type}'")
                values = store.resolved_values(environment, KIND, name)
                secret = values.get("auth.secret") or store.read_secret(
                    environment, KIND, name, "hmac_secret")
        body = (_read(event_file, "--event").encode() if event_file is not None
                else sample_body(preset))
        base = server_url(server)
        path = f"/inbound/{environment}/{resource.id}/ingest"
        signed_url = (os.environ.get("HOOKPLANE_PUBLIC_URL") or base).rstrip("/") + path
        try:
            headers, body = preset.sign(body, secret, time.time(), signed_url)
        except (ValueError, TypeError) as exc:
            what = "--private-key" if preset.signs_with_private_key else "the event"
            raise HookplaneError(f"could not sign {what} the {preset.title} way: "
                                 f"{type(exc).__name__}") from None
        headers = {"Content-Type": "application/x-www-form-urlencoded"
                   if preset.name == "twilio" else "application/json", **headers}
        if as_curl:
            click.echo(f"curl -X POST {shlex.quote(base + path)} \\")
            for header, value in headers.items():
                click.echo(f"  -H {shlex.quote(f'{header}: {value}')} \\")
            click.echo(f"  --data-binary {shlex.quote(body.decode('utf-8', 'replace'))}")
            return 0
        answer = send(base + path, body=body, headers=headers)
        click.echo(f"HTTP {answer.status}")
        if answer.body:
            click.echo(answer.body.decode("utf-8", "replace"))
        return 0 if 200 <= answer.status < 300 else 1


def _read(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HookplaneError(f"{option} {path}: cannot read it ({type(exc).__name__})") from None
