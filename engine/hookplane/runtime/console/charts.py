"""Server-rendered SVG charts (no JavaScript, no third-party code).

:func:`deliveries_chart` draws one bar per minute of the last hour, successes stacked under
failures, with a text summary for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Protocol

from markupsafe import Markup

WIDTH = 600
HEIGHT = 180
_LEFT = 36
_RIGHT = 8
_TOP = 12
_BOTTOM = 28
SUCCESS_COLOUR = "#2f7d32"
FAILURE_COLOUR = "#c62828"


class MinuteLike(Protocol):
    @property
    def minute(self) -> str: ...
    @property
    def succeeded(self) -> int: ...
    @property
    def failed(self) -> int: ...


def minute_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def per_minute(buckets: Sequence[MinuteLike], *, now: datetime,
               minutes: int = 60) -> list[tuple[str, int, int]]:
    """``(minute, succeeded, failed)`` for each of the last ``minutes`` minutes, oldest
    first, the current minute last; minutes without deliveries count zero."""
    counts = {b.minute: (b.succeeded, b.failed) for b in buckets}
    start = now.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    series = []
    for index in range(minutes):
        key = minute_key(start + timedelta(minutes=index))
        ok, failed = counts.get(key, (0, 0))
        series.append((key, ok, failed))
    return series


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step:
            return step
    magnitude = int(10 ** (len(str(value)) - 1))
    return ((value + magnitude - 1) // magnitude) * magnitude


def deliveries_chart(buckets: Sequence[MinuteLike], *, now: datetime, title: str,
                     chart_id: str, minutes: int = 60) -> Markup:
    """An inline SVG bar chart of deliveries per minute (successes and failures)."""
    series = per_minute(buckets, now=now, minutes=minutes)
    total_ok = sum(ok for _, ok, _ in series)
    total_failed = sum(failed for _, _, failed in series)
    peak = max((ok + failed for _, ok, failed in series), default=0)
    top = _nice_max(max(peak, 1))
    plot_w = WIDTH - _LEFT - _RIGHT
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = plot_w / minutes
    bar = max(slot - 2, 1)
    summary = (f"{total_ok} succeeded and {total_failed} failed in the last {minutes} minutes; "
               f"busiest minute: {peak}.")
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(summary)}</desc>',
    ]
    # grid: 0, half and top
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        label = round(top * fraction)
        parts.append(f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#d0d4da" stroke-width="1"/>')
        parts.append(f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" '
                     f'font-size="11" fill="#4a5260">{label}</text>')
    for index, (minute, ok, failed) in enumerate(series):
        x = _LEFT + index * slot + 1
        ok_h = plot_h * ok / top
        failed_h = plot_h * failed / top
        base = _TOP + plot_h
        hhmm = minute[11:16]
        if ok:
            parts.append(f'<rect class="ok" x="{x:.1f}" y="{base - ok_h:.1f}" width="{bar:.1f}" '
                         f'height="{ok_h:.1f}" fill="{SUCCESS_COLOUR}">'
                         f'<title>{hhmm} UTC: {ok} succeeded</title></rect>')
        if failed:
            parts.append(f'<rect class="failed" x="{x:.1f}" y="{base - ok_h - failed_h:.1f}" '
                         f'width="{bar:.1f}" height="{failed_h:.1f}" fill="{FAILURE_COLOUR}">'
                         f'<title>{hhmm} UTC: {failed} failed</title></rect>')
    axis_y = HEIGHT - _BOTTOM + 16
    for index, tick in ((0, f"-{minutes}m"), (minutes // 2, f"-{minutes // 2}m"),
                        (minutes - 1, "now")):
        x = _LEFT + index * slot + slot / 2
        anchor = "start" if index == 0 else "end" if index == minutes - 1 else "middle"
        parts.append(f'<text x="{x:.1f}" y="{axis_y}" text-anchor="{anchor}" font-size="11" '
                     f'fill="#4a5260">{tick}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # every interpolated text above is escaped or numeric
