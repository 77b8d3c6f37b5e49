"""Times as people read them (relative, the exact UTC time on hover), and shares as %."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from dashboard import charts

register = template.Library()
# What a table shows where there is no figure (no check yet, no latency).
NO_VALUE = "\N{EN DASH}"


def relative(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    span = abs(seconds)
    if span < 10:
        return "just now" if seconds >= 0 else "in a moment"
    if span < 60:
        text = f"{int(span)} s"
    elif span < 3600:
        text = f"{int(span // 60)} min"
    elif span < 86400:
        text = f"{int(span // 3600)} h"
    else:
        text = f"{int(span // 86400)} d"
    return f"{text} ago" if seconds >= 0 else f"in {text}"


@register.simple_tag
def when(moment: datetime | None, empty: str = "never") -> SafeString | str:
    """<time> with the relative time, and the exact UTC time as its title."""
    if moment is None:
        return empty
    exact = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        exact.isoformat(timespec="seconds").replace("+00:00", "Z"),
        exact.strftime("%Y-%m-%d %H:%M:%S"),
        relative(moment, timezone.now()),
    )


@register.filter
def percent(share: float | None) -> str:
    if share is None:
        return NO_VALUE
    if share >= 1:
        return "100%"
    # Never round a failure away: 99.996% shows as 99.99%, not 100%.
    return f"{int(share * 10000) / 100:.2f}%"


@register.filter
def ms(latency: float | None) -> str:
    if latency is None:
        return NO_VALUE
    return f"{latency / 1000:.2f} s" if latency >= 1000 else f"{latency:.0f} ms"


@register.filter
def get(mapping: dict, key: str) -> object:
    return mapping.get(key)


@register.filter(name="sparkline")
def sparkline_filter(recent: list) -> SafeString:
    return charts.sparkline(recent)


@register.filter(name="check_bar")
def check_bar_filter(recent: list) -> SafeString:
    return charts.check_bar(recent)


STATUS_ICONS = {"up": "✓", "healthy": "✓", "degraded": "!", "down": "✕", "unhealthy": "✕"}


@register.filter
def badge(status: str) -> SafeString:
    """The status in words, with an icon: never by colour alone."""
    return format_html(
        '<span class="status status-{}"><span aria-hidden="true">{}</span> {}</span>',
        status,
        STATUS_ICONS.get(status, "?"),
        status,
    )
