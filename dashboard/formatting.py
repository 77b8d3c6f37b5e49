"""How figures read on the pages: times (relative, with the exact UTC time on hover),
latencies, shares as percentages, statuses as badges, and the mark for no value.

One module for the template tags (templatetags/seahealth.py), the status page's rows
rendered in Python (status_rows.py) and the views.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from probes.durations import rough_duration

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
    """<time> with the relative time, and the exact UTC time as its title."""
    if moment is None:
        return empty
    exact = moment.astimezone(UTC)
    # Plain formatting, not format_html: every part is a date we wrote, and the status page
    # writes a thousand of these per poll.
    return mark_safe(  # noqa: S308 - dates formatted here only
        f'<time datetime="{exact:%Y-%m-%dT%H:%M:%SZ}" title="{exact:%Y-%m-%d %H:%M:%S} UTC">'
        f"{relative(moment, now or timezone.now())}</time>"
    )


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
    if share is None:
        return NO_VALUE
    if share >= 1:
        return "100%"
    # Never round a failure away: 99.996% shows as 99.99%, not 100%.
    return f"{int(share * 10000) / 100:.2f}%"


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
