"""Secrets at rest: encryption, keyed fingerprints, generated secrets and tokens.

One key protects a state database: ``HOOKPLANE_SECRET_KEY`` (a Fernet key), or, for an
embedded SQLite database only, a key file created beside it with mode 0600. Values are
encrypted with Fernet (AES-128-CBC + HMAC-SHA256). Fingerprints are HMAC-SHA256 under a key
derived from the same secret with HKDF and a label of their own, so a fingerprint says
whether two values are equal and nothing else. Saved plan files are authenticated with
HMAC-SHA256 under another key derived the same way (label ``hookplane/plan-file/v1``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hookplane.errors import SecretError

SECRET_KEY_ENV = "HOOKPLANE_SECRET_KEY"
KEY_FILE_NAME = "secret.key"

_MAKE_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
_FINGERPRINT_INFO = b"hookplane/fingerprint/v1"
_KEY_CHECK_INFO = b"hookplane/key-check/v1"
_PLAN_FILE_INFO = b"hookplane/plan-file/v1"
_TOKEN_PREFIX = "hpt_"
_SIGNING_PREFIX = "whsec_"
_DISPLAY_LENGTH = 12


def generate_key() -> str:
    """A new random secret key in the form ``HOOKPLANE_SECRET_KEY`` expects."""
    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts, decrypts and fingerprints values under one secret key."""

    def __init__(self, key: str | bytes, *, source: str = SECRET_KEY_ENV) -> None:
        raw = key.encode("ascii", "replace") if isinstance(key, str) else key
        try:
            self._fernet = Fernet(raw.strip())
            decoded = base64.urlsafe_b64decode(raw.strip())
        except (ValueError, TypeError):
            # Not chained: the original error could quote part of the key.
            raise SecretError(
                f"{source} is not a valid secret key: it must be 32 random bytes in URL-safe "
                f"base64 (44 characters). Make one with: {_MAKE_KEY}"
            ) from None
        self._fingerprint_key = _derive(decoded, _FINGERPRINT_INFO)
        self._plan_file_key = _derive(decoded, _PLAN_FILE_INFO)
        self._key_check = "kc:" + hmac.new(_derive(decoded, _KEY_CHECK_INFO), b"hookplane",
                                           hashlib.sha256).hexdigest()

    @classmethod
    def from_environment(cls, *, key_file: Path | None,
                         environ: Mapping[str, str] | None = None) -> SecretBox:
        """The box for ``$HOOKPLANE_SECRET_KEY``, else for ``key_file`` (created if missing).

        ``key_file`` is None for a database a key file must not protect (a server): then the
        variable is required.
        """
        env = os.environ if environ is None else environ
        key = env.get(SECRET_KEY_ENV)
        if key:
            return cls(key)
        if key_file is None:
            raise SecretError(
                f"{SECRET_KEY_ENV} is not set. A shared state database needs a secret key to "
                f"encrypt secrets at rest; give every process that uses it the same key. "
                f"Make one with: {_MAKE_KEY}"
            )
        return cls(_load_or_create_key_file(key_file), source=f"key file {key_file}")

    @property
    def key_check(self) -> str:
        """A value that identifies the key without revealing it (stored in the database)."""
        return self._key_check

    def plan_file_key(self) -> bytes:
        """The key that authenticates saved plan files (HKDF of the secret key, own label).

        Only a holder of the state's secret key can make or verify it; it is never stored.
        """
        return self._plan_file_key

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, text: str) -> str:
        try:
            return self._fernet.decrypt(text.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretError(
                f"cannot decrypt: wrong {SECRET_KEY_ENV}? Use the key this state database "
                "was created with."
            ) from exc

    def fingerprint(self, value: str) -> str:
        """``fp:`` + HMAC-SHA256 of ``value``: equal values, equal fingerprints; nothing else."""
        digest = hmac.new(self._fingerprint_key, value.encode("utf-8"), hashlib.sha256)
        return "fp:" + digest.hexdigest()


def new_signing_secret() -> str:
    """``whsec_`` + standard base64 of 32 random bytes (Standard Webhooks style)."""
    return _SIGNING_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_token() -> str:
    """``hpt_`` + 40 URL-safe random characters (240 bits)."""
    return _TOKEN_PREFIX + secrets.token_urlsafe(30)


def hash_token(token: str) -> str:
    """SHA-256 hex of a token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def display_prefix(token: str) -> str:
    """The first 12 characters, enough to recognise a token and useless to an attacker."""
    return token[:_DISPLAY_LENGTH]


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def _load_or_create_key_file(path: Path) -> str:
    try:
        return _create_key_file(path)
    except OSError as exc:  # e.g. a file where a directory should be, no permission
        raise SecretError(f"cannot use key file {path}: {exc.strerror or exc}") from None


def _create_key_file(path: Path) -> str:
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # the state directory
    # Write a private temporary file, then link it into place: the key file appears complete
    # or not at all, and if another process got there first its key wins.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(generate_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key_file(path)


def staged_key_file(path: Path) -> Path:
    """Where a re-key writes the new key before the database switches to it."""
    return path.with_name(path.name + ".new")


def stage_key_file(path: Path, key: str) -> Path:
    """Write ``key`` to :func:`staged_key_file` (mode 0600, synced), replacing one left by an
    interrupted re-key; the key file itself is untouched until :func:`install_key_file`."""
    staged = staged_key_file(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.strip() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, staged)
    finally:
        temporary.unlink(missing_ok=True)
    return staged


def install_key_file(path: Path) -> None:
    """Put the staged key in place of the key file (one rename: old key or new, never half)."""
    os.replace(staged_key_file(path), path)


def read_staged_key(path: Path) -> str | None:
    """The key an interrupted re-key staged beside ``path``, or None."""
    staged = staged_key_file(path)
    if not staged.exists():
        return None
    return _read_key_file(staged)


def _read_key_file(path: Path) -> str:
    status = path.stat()
    if os.name == "posix" and status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"key file {path} is accessible by group or others (mode "
            f"{stat.S_IMODE(status.st_mode):04o}); it protects every secret in the state. "
            f"Restrict it with: chmod 600 {path}"
        )
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeError) as exc:
        raise SecretError(f"cannot read key file {path}: {exc.__class__.__name__}") from None
