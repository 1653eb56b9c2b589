"""Signed session cookies and CSRF tokens for the console (standard library only).

A session is ``<id>.<expires>.<mac>``: a random id, its expiry (Unix seconds) and an
HMAC-SHA256 of both under a key derived from the admin token. Nothing else is stored: the
cookie holds no secret, changing ``HOOKPLANE_ADMIN_TOKEN`` signs every session out, and every
replica sharing the token accepts the same cookie. Signing out revokes the id in this process
(and clears the cookie); a copied cookie of a signed-out session stays refused here until it
expires.

The CSRF token of a form is an HMAC of the session id (a different label), so it needs no
storage either and a token from one session is worthless in another. The sign-in form, which
has no session yet, is protected the same way by a short-lived pre-session nonce cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

SESSION_COOKIE = "hookplane_console"
SIGNIN_COOKIE = "hookplane_console_signin"
COOKIE_PATH = "/console"
SESSION_SECONDS = 8 * 3600
SIGNIN_SECONDS = 15 * 60


@dataclass(frozen=True)
class Session:
    id: str
    expires: int


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of a client's value (any characters: compared as UTF-8 bytes;
    ``hmac.compare_digest`` raises on non-ASCII strings) and an expected hex MAC."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


class Sessions:
    """Issues and checks console sessions and CSRF tokens for one admin token."""

    def __init__(self, admin_token: str, *, lifetime: int = SESSION_SECONDS) -> None:
        self._token_digest = _digest(admin_token)
        self._key = hmac.new(self._token_digest, b"hookplane console v1", hashlib.sha256).digest()
        self._lifetime = lifetime
        self._revoked: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- the admin token ------------------------------------------------------------------

    def token_matches(self, given: str) -> bool:
        """Constant-time comparison (of digests, so lengths leak nothing either)."""
        return hmac.compare_digest(_digest(given.strip()), self._token_digest)

    # -- sessions ---------------------------------------------------------------------------

    def issue(self, *, now: float | None = None) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(secrets.token_urlsafe(18), int(now or time.time()) + self._lifetime)
        payload = f"{session.id}.{session.expires}"
        return session, f"{payload}.{self._mac('session', payload)}"

    def read(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session of a cookie value, or None (missing, forged, expired or revoked)."""
        if not cookie or len(cookie) > 200:
            return None
        session_id, _, rest = cookie.partition(".")
        expires_text, _, mac = rest.partition(".")
        if not session_id or not expires_text.isdigit() or not mac:
            return None
        if not _same(mac, self._mac("session", f"{session_id}.{expires_text}")):
            return None
        expires = int(expires_text)
        current = int(now or time.time())
        if expires <= current:
            return None
        with self._lock:
            if session_id in self._revoked:
                return None
        return Session(session_id, expires)

    def revoke(self, session: Session, *, now: float | None = None) -> None:
        current = int(now or time.time())
        with self._lock:
            self._revoked = {sid: exp for sid, exp in self._revoked.items() if exp > current}
            self._revoked[session.id] = session.expires

    @property
    def lifetime(self) -> int:
        return self._lifetime

    # -- CSRF -------------------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.id)

    def csrf_valid(self, session: Session, given: str | None) -> bool:
        return bool(given) and _same(str(given), self.csrf_token(session))

    def signin_nonce(self) -> str:
        return secrets.token_urlsafe(18)

    def signin_token(self, nonce: str) -> str:
        return self._mac("signin", nonce)

    def signin_valid(self, nonce: str | None, given: str | None) -> bool:
        if not nonce or not given or len(nonce) > 100:
            return False
        return _same(str(given), self.signin_token(nonce))

    def _mac(self, label: str, value: str) -> str:
        return hmac.new(self._key, f"{label}:{value}".encode(), hashlib.sha256).hexdigest()
