"""The template tags and filters of seahealth's pages: dashboard/formatting.py, registered."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from dashboard import formatting
from dashboard import status_rows as rendering

register = template.Library()
register.simple_tag(formatting.when, name="when")
register.simple_tag(formatting.in_maintenance, name="in_maintenance")
register.filter("percent", formatting.percent)
register.filter("ms", formatting.ms)
register.filter("badge", formatting.badge)
register.simple_tag(formatting.lasted, name="lasted")
register.simple_tag(formatting.clock, name="clock")
register.filter("duration", formatting.duration)


@register.simple_tag
def status_rows(rows: list, budgets: bool = False) -> SafeString:
    """A group's rows on the status page (rendered in Python: see dashboard/status_rows.py)."""
    return rendering.render(rows, budgets)
