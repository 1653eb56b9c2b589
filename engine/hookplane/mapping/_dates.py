"""Date conversion between native ISO-8601 text and an external format.

Native dates are ISO-8601 UTC text: ``2024-01-02T03:04:05Z``, with ``.mmm`` when the
value has whole milliseconds and ``.ffffff`` when it has finer precision. External
formats: ``epoch_s`` (seconds since 1970, an integer when whole, else a float),
``epoch_ms`` (integer milliseconds; finer precision is dropped), ``iso8601`` (the native
text) or a strftime pattern (written in UTC; read back with strptime, a result without an
offset taken as UTC).
"""

from __future__ import annotations

import difflib
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hookplane.mapping._values import is_number

DATE_KEYWORDS: Final = ("epoch_s", "epoch_ms", "iso8601")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DECIMAL = re.compile(r"[+-]?[0-9]{1,20}(?:\.[0-9]{1,9})?")
_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)
_SAMPLES = (
    datetime(2024, 11, 23, 13, 45, 56, tzinfo=UTC),
    datetime(2024, 2, 29, 1, 2, 3, tzinfo=UTC),
)
"""A format must write and read back the date of each (the second one only a pattern that
keeps the year can: 29 February)."""


class ConversionError(Exception):
    """A value that cannot be converted; the message says why (without the value)."""


def format_iso(moment: datetime) -> str:
    """``2024-01-02T03:04:05Z`` (``.123Z`` / ``.123456Z`` when there is a fraction)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    micro = moment.microsecond
    if micro:
        text += f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"
    return text + "Z"


def parse_iso(value: Any) -> datetime:
    """An aware UTC datetime from ISO-8601 text (no offset = UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConversionError("it is not an ISO-8601 date-time") from None
    else:
        raise ConversionError("an ISO-8601 date-time must be text")
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ConversionError("it is outside the supported date range") from None


def check_date_format(fmt: str) -> str | None:
    """A problem with a date format, or None when it can be used both ways."""
    if fmt in DATE_KEYWORDS:
        return None
    if "%" not in fmt:
        guess = difflib.get_close_matches(fmt, DATE_KEYWORDS, n=1, cutoff=0.5)
        hint = f"did you mean '{guess[0]}'? " if guess else ""
        return (
            f"'{fmt}' is not a date format: {hint}use epoch_s, epoch_ms, iso8601 or a "
            "strftime pattern such as '%d/%m/%Y %H:%M'"
        )
    for sample in _SAMPLES:
        try:
            parsed = datetime.strptime(sample.strftime(fmt), fmt)
        except ValueError as exc:
            if sample is not _SAMPLES[0] and "day is out of range" in str(exc):
                break  # no year in the pattern: reported as not keeping the date below
            return f"the strftime pattern '{fmt}' cannot be read back ({exc})"
        if parsed.date() != sample.date():
            break
    else:
        return None
    return (
        f"the strftime pattern '{fmt}' does not keep the date (year, month and day), so "
        "it cannot be read back"
    )


class DateCodec:
    """Converts one field between native ISO-8601 text and the external ``fmt``."""

    __slots__ = ("fmt",)

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def to_native(self, value: Any) -> Any:
        """External value -> native ISO-8601 text; ``None`` stays ``None``."""
        if value is None:
            return None
        return format_iso(self._read(value))

    def to_external(self, value: Any) -> Any:
        """Native ISO-8601 text -> external value; ``None`` stays ``None``."""
        if value is None:
            return None
        moment = parse_iso(value)
        if self.fmt == "iso8601":
            return format_iso(moment)
        try:
            if self.fmt in ("epoch_s", "epoch_ms"):
                delta = moment - _EPOCH
                if self.fmt == "epoch_ms":
                    return delta // _MILLISECOND
                whole, rest = divmod(delta, _SECOND)
                return whole if not rest else delta.total_seconds()
            return moment.strftime(self.fmt)
        except (OverflowError, ValueError) as exc:
            raise ConversionError(f"it cannot be written as {self.fmt} ({exc})") from None

    def _read(self, value: Any) -> datetime:
        if self.fmt in ("epoch_s", "epoch_ms"):
            return self._read_epoch(value)
        if self.fmt == "iso8601":
            return parse_iso(value)
        if not isinstance(value, str):
            raise ConversionError(f"a '{self.fmt}' date must be text")
        try:
            moment = datetime.strptime(value.strip(), self.fmt)
        except ValueError:
            raise ConversionError(f"it does not match the pattern '{self.fmt}'") from None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ConversionError("it is outside the supported date range") from None

    def _read_epoch(self, value: Any) -> datetime:
        number: int | float
        if is_number(value):
            number = value
        elif isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
            text = value.strip()
            number = float(text) if "." in text else int(text)
        else:
            raise ConversionError(f"{self.fmt} needs a number (or numeric text)")
        if isinstance(number, float) and not math.isfinite(number):
            raise ConversionError(f"{self.fmt} needs a finite number")
        try:
            if self.fmt == "epoch_ms":
                return _EPOCH + timedelta(milliseconds=number)
            return _EPOCH + timedelta(seconds=number)
        except OverflowError:
            raise ConversionError("it is outside the supported date range") from None
