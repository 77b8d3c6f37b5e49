"""The status page's rows, rendered in Python.

At a thousand dependencies Django's template engine spent some 150 ms on these rows alone
(bench/status_page.py): twenty variable lookups, filters and tags per row. One f-string per
row writes the same markup in a fraction of that, escaping (html.escape) every text that
can carry markup: names, kinds and errors. The rest of the page stays in
templates/dashboard/status-live.html.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from dashboard import charts
from dashboard.board import Row
from dashboard.formatting import badge, in_maintenance, ms, percent, when

CRITICAL = ' <small class="critical">critical</small>'


def render(rows: Iterable[Row], now: datetime | None = None) -> SafeString:
    now = now or timezone.now()
    # One reverse() for the page, not one per row.
    url = reverse("sh-dependency", args=["0"]).removesuffix("0/")
    return mark_safe("\n".join(_row(row, url, now) for row in rows))  # noqa: S308 - escaped in _row


def _row(row: Row, url: str, now: datetime) -> str:
    """One <tr>; every text that can carry markup goes through escape()."""
    d = row.dependency
    name = escape(d.name)
    trial = row.next_trial_at
    trial_html = f"<br><small>trial {when(trial, now=now)}</small>" if trial else ""
    problem = ""
    window = (
        f"<br><small>{in_maintenance(row.maintenance.until)}</small>" if row.maintenance else ""
    )
    if d.status not in ("up", "unknown"):
        since = when(d.status_since, now=now)
        problem = f"{escape(row.problem)}<br><small>since {since}</small>"
        if row.affected_by:
            parents = ", ".join(
                f'<a href="{url}{escape(parent)}/">{escape(parent)}</a>'
                for parent in row.affected_by
            )
            problem += f'<br><small class="affected">affected by {parents}</small>'
    return (
        f'<tr class="row-{d.status}"><td>{badge(d.status)}{window}</td>'
        f'<td><a id="dep-{name}" href="{url}{name}/">{name}</a>'
        f' <small class="kind">{escape(d.kind)}</small>{CRITICAL if d.critical else ""}</td>'
        f'<td class="breaker-{d.breaker_state}">{d.get_breaker_state_display()}{trial_html}</td>'
        f'<td class="num">{ms(d.last_latency_ms)}</td>'
        f'<td class="recent">{charts.sparkline(d.recent)}{charts.check_bar(d.recent)}</td>'
        f'<td class="num">{percent(d.uptime_24h)} · {percent(d.uptime_7d)} · '
        f"{percent(d.uptime_30d)}</td>"
        f'<td class="when">{when(d.last_checked_at, now=now)}</td>'
        f'<td class="problem">{problem}</td></tr>'
    )
