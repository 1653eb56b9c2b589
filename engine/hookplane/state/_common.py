"""Small value helpers shared by the state modules: ids, times, clipping, JSON, cursors.

Internal to :mod:`hookplane.state`. Timestamps going out are ISO-8601 strings with ``Z``
(seconds); datetimes coming in may be naive (meaning UTC).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets as _random
from datetime import UTC, datetime
from typing import Any, TypeAlias, cast

from sqlalchemy import Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from hookplane.errors import InvalidQuery, StateError

DbRow: TypeAlias = "Row[*tuple[Any, ...]]"

MAX_LIMIT = 1000
"""The largest page any listing returns."""

_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_ID_LENGTH = 20
_UNQUERYABLE = re.compile("[\x00\ud800-\udfff]")


def new_id(prefix: str) -> str:
    """``prefix`` + ``_`` + 20 random Crockford base32 characters."""
    return prefix + "_" + "".join(_random.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def utc_now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything Hookplane stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def iso(value: datetime) -> str:
    stamp = aware(value).astimezone(UTC).replace(microsecond=0)
    return stamp.isoformat().replace("+00:00", "Z")


def iso_or_none(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def as_utc(value: datetime | None) -> datetime:
    """An aware UTC datetime (naive means UTC); the current time when None.

    SQLite stores datetimes as UTC text without a zone, so a parameter in another zone would
    compare wrongly: everything is converted here.
    """
    if value is None:
        return utc_now()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_db_time(value: Any) -> datetime:
    """A datetime from the database (an aggregate over SQLite returns the stored text)."""
    if isinstance(value, datetime):
        return aware(value)
    return aware(datetime.fromisoformat(str(value)))


def clip(text: str, length: int = 200) -> str:
    """Fit a free-text label (who, actor) into its column rather than fail the write."""
    return text if len(text) <= length else text[: length - 1] + "…"


def cap(text: str | None, limit: int) -> str | None:
    """At most ``limit`` UTF-8 bytes (cut on a character boundary, marked with …); NULs,
    which PostgreSQL text cannot hold, become U+FFFD."""
    if text is None:
        return None
    cleaned = text.replace("\x00", "\ufffd")
    raw = cleaned.encode("utf-8")
    if len(raw) <= limit:
        return cleaned
    return raw[: limit - 3].decode("utf-8", "ignore") + "…"


def unqueryable(*texts: str) -> bool:
    """True if a text cannot be a query parameter: PostgreSQL refuses NUL in text, and a lone
    surrogate cannot be encoded. Such an id or key matches nothing that was stored."""
    return any(_UNQUERYABLE.search(text) for text in texts)


def storable(text: str) -> str:
    """``text`` with what no text column can hold (NUL on PostgreSQL, lone surrogates in
    UTF-8) replaced by U+FFFD: the log keeps a request that came with them in its path."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace")


def millis(value: float | None) -> int | None:
    return None if value is None else max(0, round(value))


def json_value(value: Any) -> Any:
    """``value`` as it will read back from the database (a JSON round trip)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot store {type(value).__name__} as JSON: {exc}") from exc


def json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StateError(f"expected a JSON object, got {type(value).__name__}")
    return cast(dict[str, Any], json_value(value))


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")


def encode_cursor(created_at: datetime, row_id: str, *, newest_first: bool) -> str:
    stamp = aware(created_at).astimezone(UTC).isoformat()
    blob = json.dumps([stamp, row_id, "d" if newest_first else "a"],
                      separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, newest_first: bool) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, row_id, direction = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = as_utc(datetime.fromisoformat(stamp))
        if not isinstance(row_id, str) or direction not in ("a", "d") \
                or unqueryable(row_id):
            raise ValueError(direction)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidQuery("invalid cursor: pass the 'next' value of a previous page") from None
    if (direction == "d") != newest_first:
        raise InvalidQuery("the cursor belongs to a listing in the other order")
    return when, row_id


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The connection's dialect's INSERT, which has ``on_conflict_do_nothing/update``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
