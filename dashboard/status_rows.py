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
from dashboard.error_budgets import NO_DATA, remaining
from dashboard.formatting import NO_VALUE, badge, coverage, in_maintenance, ms, percent, when
from probes.models import Dependency
from probes.rollups import UPTIME_WINDOWS

# What a dependency is, not that something is wrong: a neutral tag, not a red word.
CRITICAL = ' <small class="tag critical">critical</small>'


def render(rows: Iterable[Row], budgets: bool = False, now: datetime | None = None) -> SafeString:
    """The rows' <tr>s; with `budgets`, a cell of each one's error budget left."""
    now = now or timezone.now()
    # One reverse() for the page, not one per row.
    url = reverse("sh-dependency", args=["0"]).removesuffix("0/")
    return mark_safe("\n".join(_row(row, url, now, budgets) for row in rows))  # noqa: S308 - escaped in _row


def _row(row: Row, url: str, now: datetime, budgets: bool) -> str:
    """One <tr>; every text that can carry markup goes through escape()."""
    d = row.dependency
    name = escape(d.name)
    trial = row.next_trial_at
    trial_html = f'<br><small class="trial">trial {when(trial, now=now)}</small>' if trial else ""
    problem = ""
    window = (
        f"<br><small>{in_maintenance(row.maintenance.until)}</small>" if row.maintenance else ""
    )
    if d.status not in ("up", "unknown"):
        since = when(d.status_since, now=now)
        problem = f"<small>since {since}</small>"
        if row.problem:
            problem = f"{escape(row.problem)}<br>{problem}"
        if row.affected_by:
            parents = ", ".join(
                f'<a href="{url}{escape(parent)}/">{escape(parent)}</a>'
                for parent in row.affected_by
            )
            problem += f'<br><small class="affected">affected by {parents}</small>'
    return (
        f'<tr class="row-{d.status}"><td class="status-cell">{badge(d.status)}{window}</td>'
        f'<td class="name"><a class="name" id="dep-{name}" href="{url}{name}/">{name}</a>'
        f' <small class="kind">{escape(d.kind)}</small>{CRITICAL if d.critical else ""}'
        f"{_pool(row)}</td>"
        f'<td class="breaker breaker-{d.breaker_state}">{d.get_breaker_state_display()}'
        f"{trial_html}</td>"
        f'<td class="num latency">{ms(d.last_latency_ms)}</td>'
        f'<td class="recent">{charts.sparkline(d.recent)}{charts.check_bar(d.recent)}</td>'
        f'<td class="num uptime">{_uptimes(d)}</td>'
        f"{_budget(d) if budgets else ''}"
        f'<td class="when">{when(d.last_checked_at, now=now)}</td>'
        f'<td class="problem">{problem}</td></tr>'
    )


def _pool(row: Row) -> str:
    """A pool's node: its pool, and how far behind the pool's best head it was."""
    pool = row.dependency.pool
    if not pool:
        return ""
    lag = row.pool_lag
    behind = "" if lag is None else (" · at the head" if lag == 0 else f" · {lag} behind")
    return f'<br><small class="pool">pool {escape(pool)}{behind}</small>'


_WINDOW_SECONDS = {name: length.total_seconds() for name, length in UPTIME_WINDOWS.items()}


def _uptimes(d: Dependency) -> str:
    """24h · 7d · 30d, each with how much of it was measured when not nearly all; once, when
    every window holds the same data (a new install: "71.08% over 2 min of data"), or none."""
    measured = d.uptime_coverage or {}
    shown = []
    for name, seconds in _WINDOW_SECONDS.items():
        share = getattr(d, f"uptime_{name}")
        covered = coverage(measured.get(name), seconds) if share is not None else ""
        shown.append(f"{percent(share)} <small>{covered}</small>" if covered else percent(share))
    if len(set(shown)) == 1 and (shown[0] == NO_VALUE or "<small>" in shown[0]):
        return shown[0]
    return " · ".join(shown)


def _budget(d: Dependency) -> str:
    """The error budget left, and the burn alert in force; empty without an SLO."""
    if not d.slo:
        return '<td class="num budget"></td>'
    left = remaining(d)
    if left is None:
        return f'<td class="num budget"><small>{NO_DATA}</small></td>'
    alert = d.slo_figures.get("alert")
    burning = f'<br><small class="burning">burn alert: {escape(alert)}</small>' if alert else ""
    css = "num budget overspent" if left < 0 else "num budget"
    return f'<td class="{css}">{percent(left)}{burning}</td>'
