"""The CLI's client of a running server's admin API (``hookplane serve``).

Some commands act best through the server: ``triggers test`` sends from the server's delivery
path (its egress allowlist, its sender, its signing) exactly as the console does. This is the
only place the CLI speaks HTTP, and it only speaks to the operator's own runtime — the URL
comes from ``--server`` / ``HOOKPLANE_SERVER_URL`` (or ``HOOKPLANE_PUBLIC_URL``), never from
YAML — so it is not an outbound request in the sense of the egress guard
(``runtime/egress.py``), which covers every destination configuration can name.

Standard library only (``urllib``): no proxies from the environment, no redirects followed,
a short timeout; the admin token travels as ``Authorization: Bearer`` and is never printed.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from hookplane.errors import HookplaneError, ServerUnreachable

__all__ = ["DEFAULT_SERVER", "SERVER_VAR", "AdminAnswer", "RawAnswer", "ServerUnreachable",
           "post", "send", "server_url"]

SERVER_VAR = "HOOKPLANE_SERVER_URL"
DEFAULT_SERVER = "http://127.0.0.1:8080"
_TIMEOUT = 30.0


@dataclass(frozen=True)
class AdminAnswer:
    status: int
    body: dict[str, Any]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def server_url(given: str | None, environ: dict[str, str] | None = None) -> str:
    """The server to talk to: ``given``, else ``HOOKPLANE_SERVER_URL``, else
    ``HOOKPLANE_PUBLIC_URL``, else ``http://127.0.0.1:8080`` (``hookplane serve``'s default)."""
    env = os.environ if environ is None else environ
    url = (given or env.get(SERVER_VAR) or env.get("HOOKPLANE_PUBLIC_URL")
           or DEFAULT_SERVER).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HookplaneError(f"server URL '{parts.scheme}://{parts.hostname or ''}' is not an "
                             "http(s) URL; e.g. --server http://127.0.0.1:8080")
    return url


def post(server: str, path_parts: list[str], *, token: str) -> AdminAnswer:
    """POST to ``{server}/admin/{quoted parts}``; raises :class:`ServerUnreachable` when no
    server answered (any HTTP answer, errors included, is returned)."""
    url = server + "/admin/" + "/".join(quote(part, safe="") for part in path_parts)
    request = urllib.request.Request(url, data=b"", method="POST", headers={
        "Authorization": f"Bearer {token}", "Accept": "application/json",
        "User-Agent": "hookplane-cli"})
    try:
        with _OPENER.open(request, timeout=_TIMEOUT) as response:
            return AdminAnswer(response.status, _json(response.read()))
    except urllib.error.HTTPError as exc:
        return AdminAnswer(exc.code, _json(exc.read()))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerUnreachable(f"no server answered at {server}: {reason}") from exc


@dataclass(frozen=True)
class RawAnswer:
    status: int
    content_type: str
    body: bytes


def send(url: str, *, body: bytes, headers: dict[str, str], method: str = "POST") -> RawAnswer:
    """One request to the operator's own server (``inbound-webhooks simulate``): no proxies,
    no redirects; any HTTP answer is returned, :class:`ServerUnreachable` when none came."""
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"User-Agent": "hookplane-cli", **headers})
    try:
        with _OPENER.open(request, timeout=_TIMEOUT) as response:
            return RawAnswer(response.status, response.headers.get("content-type", ""),
                             response.read(64 * 1024))
    except urllib.error.HTTPError as exc:
        return RawAnswer(exc.code, exc.headers.get("content-type", ""), exc.read(64 * 1024))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServerUnreachable(f"no server answered at {url}: {reason}") from exc


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {"error": data[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"data": value}
