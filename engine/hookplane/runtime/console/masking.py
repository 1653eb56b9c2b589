"""What the console may show of URLs and headers: never a secret."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "••••••••"
_SECRET_HEADER = re.compile(
    r"authorization|secret|token|signature|api[-_]?key|apikey|password|passwd|cookie|"
    r"credential|session|private|x-account-key|access[-_]?key", re.IGNORECASE)


def mask_url(url: str | None) -> str | None:
    """Only scheme, host and port: paths and queries of webhook URLs often hold a secret
    (Slack, Discord, Teams), and user info always does."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "(unparseable URL)"
    if not host:
        return "(unparseable URL)"
    shown = f"[{host}]" if ":" in host else host
    if port is not None:
        shown = f"{shown}:{port}"
    hidden = bool(parts.path.strip("/") or parts.query or parts.fragment)
    return f"{parts.scheme}://{shown}" + ("/…" if hidden else "")


def secret_header(name: str) -> bool:
    return bool(_SECRET_HEADER.search(name))


def mask_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    """``(name, shown value, masked)``: values of secret-looking headers are replaced."""
    return [(name, MASK if secret_header(name) else value, secret_header(name))
            for name, value in headers]
