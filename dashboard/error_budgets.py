"""A dependency's SLO as the pages show it, read from the figures stored on its row
(probes/error_budgets.py refreshes them every 15 s, so a page computes none of them): the
headline figures in words, a row per burn-rate window, and the budget left that the status
page shows and sorts by. Only the budget over time is read per request, in one query."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils.safestring import SafeString

from dashboard import charts
from dashboard.formatting import NO_VALUE, burn_rate, coverage, percent
from probes import error_budgets
from probes.durations import format_duration
from probes.models import Dependency
from probes.slo import Slo, format_percent

NO_DATA = "no data yet"


@dataclass(frozen=True)
class BurnRow:
    window: str
    rate: str
    checks: int
    why_none: str  # why the window has no rate: too few checks, or no time measured


@dataclass(frozen=True)
class Section:
    objective: str  # "99.9%"
    window: str  # "30d", as declared
    availability: str
    coverage: str  # "over 3 h of data", or "" when the window was measured whole
    remaining: str
    minutes: str  # "27 min left", "overspent by 12 min"
    overspent: bool
    alert: str  # "", "ticket" or "page"
    rule: str
    burns: list[BurnRow]
    chart: SafeString


def remaining(row: Dependency) -> float | None:
    """The share of its error budget left; None without an SLO or before any data."""
    return (row.slo_figures or {}).get("remaining") if row.slo else None


def section(row: Dependency, now: datetime) -> Section | None:
    """What the dependency's page shows of its SLO; None when it declares none."""
    slo = Slo.from_stored(row.slo)
    if slo is None:
        return None
    figures: dict[str, Any] = row.slo_figures or {}
    left, minutes = figures.get("remaining"), figures.get("remaining_minutes")
    window = timedelta(seconds=slo.window)
    return Section(
        objective=format_percent(slo.objective),
        window=format_duration(slo.window),
        availability=percent(figures["availability"]) if left is not None else NO_DATA,
        coverage=coverage(figures.get("coverage"), slo.window) if left is not None else "",
        remaining=percent(left) if left is not None else NO_VALUE,
        minutes=_minutes(minutes),
        overspent=left is not None and left < 0,
        alert=figures.get("alert", ""),
        rule=figures.get("rule", ""),
        burns=_burns(figures, slo),
        chart=charts.budget_chart(error_budgets.budget_over_time(row, now), now, window),
    )


def _minutes(minutes: float | None) -> str:
    # Never more left than there is, never less overspent.
    if minutes is None:
        return ""
    if minutes < 0:
        return f"overspent by {math.ceil(-minutes)} min"
    return f"{math.floor(minutes)} min left"


def _burns(figures: dict[str, Any], slo: Slo) -> list[BurnRow]:
    rates, counts = figures.get("burn", {}), figures.get("checks", {})
    rows = []
    for name in error_budgets.BURN_WINDOWS:
        rate, checks = rates.get(name), counts.get(name, 0)
        why = ""
        if rate is None:
            too_few = checks < slo.min_checks
            why = f"too few checks ({checks} < {slo.min_checks})" if too_few else "no data"
        rows.append(BurnRow(name, burn_rate(rate), checks, why))
    return rows
