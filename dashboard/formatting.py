"""How figures read on the pages: times (relative, with the exact UTC time on hover),
latencies, shares as percentages (with how much of their window was measured), burn
rates, statuses as badges, and the mark for no value.

One module for the template tags (templatetags/seahealth.py), the status page's rows
rendered in Python (status_rows.py) and the views.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from probes.durations import rough_duration
from probes.rollups import FULL_COVERAGE, UPTIME_WINDOWS

if TYPE_CHECKING:
    from probes.models import Dependency

# What a table shows where there is no figure (no check yet, no latency).
NO_VALUE = "\N{EN DASH}"


def relative(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    span = abs(seconds)
    if span < 10:
        return "just now" if seconds >= 0 else "in a moment"
    text = rough_duration(span)
    return f"{text} ago" if seconds >= 0 else f"in {text}"


def when(
    moment: datetime | None, empty: str = "never", now: datetime | None = None
) -> SafeString | str:
    """<time> with the relative time, and the exact UTC time as its title; `data-relative`:
    static/seahealth/relative-times.js keeps its text true between renders."""
    if moment is None:
        return empty
    exact = moment.astimezone(UTC)
    # Plain formatting, not format_html: every part is a date we wrote, and the status page
    # writes a thousand of these per poll.
    return mark_safe(  # noqa: S308 - dates formatted here only
        f'<time datetime="{exact:%Y-%m-%dT%H:%M:%SZ}" title="{exact:%Y-%m-%d %H:%M:%S} UTC"'
        f" data-relative>{relative(moment, now or timezone.now())}</time>"
    )


def clock(moment: datetime, now: datetime | None = None, seconds: bool = False) -> SafeString:
    """<time> with the UTC time of day ("16:54 UTC"), and its date when not today's."""
    exact = moment.astimezone(UTC)
    today = (now or timezone.now()).astimezone(UTC).date()
    shown = f"{exact:%H:%M:%S}" if seconds else f"{exact:%H:%M}"
    if exact.date() != today:
        shown = f"{exact:%Y-%m-%d} {shown}"
    return mark_safe(  # noqa: S308 - dates formatted here only
        f'<time datetime="{exact:%Y-%m-%dT%H:%M:%SZ}" title="{exact:%Y-%m-%d %H:%M:%S} UTC">'
        f"{shown} UTC</time>"
    )


def duration(span: timedelta | None) -> str:
    """A length of time as people say it: "3 min", "2 h"."""
    return NO_VALUE if span is None else rough_duration(max(span.total_seconds(), 0.0))


def duration_changes_in(span: timedelta) -> timedelta:
    """How long until duration(span) reads differently, `span` going on: "40 s" next
    second, "3 min" at the next whole minute."""
    seconds = max(span.total_seconds(), 0.0)
    unit = next((size for size in (86400, 3600, 60) if seconds >= size), 1)
    return timedelta(seconds=unit - seconds % unit)


def lasted(start: datetime, end: datetime | None, now: datetime | None = None) -> str:
    """How long something lasted (`12 min`), or has lasted so far (`3 h so far`)."""
    span = ((end or now or timezone.now()) - start).total_seconds()
    text = rough_duration(max(span, 0.0))
    return text if end else f"{text} so far"


def in_maintenance(until: datetime) -> SafeString:
    """ "in maintenance until HH:MM", in the site's zone, the exact UTC time as its title."""
    exact = until.astimezone(UTC)
    local = timezone.localtime(until)
    return mark_safe(  # noqa: S308 - dates formatted here only
        f'<span class="maintenance">in maintenance until <time datetime="'
        f'{exact:%Y-%m-%dT%H:%M:%SZ}" title="{exact:%Y-%m-%d %H:%M:%S} UTC">'
        f"{local:%H:%M}</time></span>"
    )


def percent(share: float | None) -> str:
    """One format for every share: `99.95%`, and the whole ends as `100%` and `0%`."""
    if share is None:
        return NO_VALUE
    if share >= 1:
        return "100%"
    if share == 0:
        return "0%"
    # Never round a failure away: 99.996% shows as 99.99%, not 100%; and rounded down, not
    # towards zero, so that a budget overspent by 0.001% reads -0.01%, not 0.00%.
    return f"{math.floor(share * 10000) / 100:.2f}%"


def coverage(measured: float | None, window_seconds: float) -> str:
    """ "over 3 h of data" when a window was measured over less than nearly all its length
    (the prober did not run all of it); "" when it was, or when nothing was measured."""
    if not measured or measured >= FULL_COVERAGE * window_seconds:
        return ""
    return f"over {rough_duration(measured)} of data"


def uptime(share: float | None, measured: float | None, window_seconds: float) -> str:
    """ "99.20%", or "99.20% over 3 h of data" when the window was not measured whole."""
    covered = coverage(measured, window_seconds) if share is not None else ""
    return f"{percent(share)} {covered}" if covered else percent(share)


def uptimes(row: Dependency) -> list[tuple[str, str]]:
    """Each uptime window's name and figure as the row stores them, coverage included."""
    measured = row.uptime_coverage or {}
    return [
        (name, uptime(getattr(row, f"uptime_{name}"), measured.get(name), length.total_seconds()))
        for name, length in UPTIME_WINDOWS.items()
    ]


def burn_rate(rate: float | None) -> str:
    """How fast the error budget burns: at 1 it lasts exactly the SLO's window."""
    return NO_VALUE if rate is None else f"{rate:.2f}\N{MULTIPLICATION SIGN}"


def ms(latency: float | None) -> str:
    if latency is None:
        return NO_VALUE
    return f"{latency / 1000:.2f} s" if latency >= 1000 else f"{latency:.0f} ms"


STATUS_ICONS = {"up": "✓", "healthy": "✓", "degraded": "!", "down": "✕", "unhealthy": "✕"}


def badge(status: str) -> SafeString:
    """The status in words, with an icon: never by colour alone."""
    status = escape(status)
    icon = STATUS_ICONS.get(status, "?")
    icon_html = f'<span aria-hidden="true">{icon}</span>'
    return mark_safe(f'<span class="status status-{status}">{icon_html} {status}</span>')  # noqa: S308 - escaped above
