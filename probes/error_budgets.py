"""What a dependency's SLO (probes/slo.py) comes to: availability over its window, the error
budget left, burn rates, and the burn alert in force, from the rollups' time.

A burn rate is the share of a window spent down over the share the objective allows: 1 spends
the budget in exactly the SLO's window, 14.4 spends 2% of a 30-day budget in an hour. Alerts
follow the SRE workbook's multiwindow rule (ALERTS): both windows of a pair must burn faster
than its factor. A window holding fewer checks than the SLO's min_checks has no burn rate:
too few checks to judge (README, "SLOs and error budgets").

refresh() stores the figures of every dependency with an SLO on its row (slo_figures) every
REFRESH_SECONDS, for the pages, /metrics and the API, and says whose alert changed.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.slo_burns import record_burns
from probes.models import Dependency, Period, Rollup
from probes.rollups import Tally, bucket_start, window_tallies
from probes.row_updates import update_rows
from probes.slo import Slo

log = logging.getLogger(__name__)

BURN_WINDOWS = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}


@dataclass(frozen=True)
class AlertRule:
    severity: str  # "page" or "ticket"
    long: str  # a BURN_WINDOWS name
    short: str
    factor: float


# The SRE workbook's (chapter 5, "Alerting on SLOs") multiwindow, multi-burn-rate alerts.
ALERTS = (
    AlertRule("page", "1h", "5m", 14.4),
    AlertRule("page", "6h", "30m", 6.0),
    AlertRule("ticket", "3d", "6h", 1.0),
)
SEVERITIES = ("", "ticket", "page")  # in rising order
REFRESH_SECONDS = 15


@dataclass(frozen=True)
class Figures:
    objective: float
    window: float  # seconds
    availability: float | None  # over the window: time up or degraded over time known
    coverage: float  # seconds of the window known (neither unknown nor in maintenance)
    remaining: float | None  # the share of the budget left; below 0 when overspent
    remaining_minutes: float | None
    burn: dict[str, float | None]  # per BURN_WINDOWS name; None: no data or too few checks
    checks: dict[str, int]
    alert: str  # one of SEVERITIES
    rule: str  # the rule that fires, e.g. "1h and 5m over 14.4"

    def stored(self) -> dict[str, Any]:
        return asdict(self)


def burn_rate(tally: Tally, slo: Slo) -> float | None:
    if not tally.known_seconds or tally.count < slo.min_checks:
        return None
    return tally.down_seconds / tally.known_seconds / slo.budget


def figures(slo: Slo, window: Tally, burn_windows: dict[str, Tally]) -> Figures:
    """The figures of one SLO from its window's tally and each burn window's."""
    availability = window.uptime
    remaining = minutes = None
    if availability is not None:
        # The budget is time: the allowed share of the window (its maintenance left out),
        # less the time down. Not 1 - (1 - availability) / budget, which, over the first
        # hours of data, makes a 30 s outage "overspent by 2,000 minutes".
        allowed = slo.budget * max(slo.window - window.maintenance_seconds, 0.0)
        minutes = (allowed - window.down_seconds) / 60
        remaining = minutes * 60 / allowed if allowed else None
    burn = {name: burn_rate(burn_windows.get(name, Tally()), slo) for name in BURN_WINDOWS}
    alert, fired = "", ""
    for rule in ALERTS:
        long, short = burn[rule.long], burn[rule.short]
        over = long is not None and short is not None and min(long, short) > rule.factor
        if over and SEVERITIES.index(rule.severity) > SEVERITIES.index(alert):
            alert, fired = rule.severity, f"{rule.long} and {rule.short} over {rule.factor:g}"
    return Figures(
        objective=slo.objective,
        window=slo.window,
        availability=availability,
        coverage=round(window.known_seconds, 1),
        remaining=remaining,
        remaining_minutes=minutes,
        burn=burn,
        checks={name: burn_windows.get(name, Tally()).count for name in BURN_WINDOWS},
        alert=alert,
        rule=fired,
    )


def _window_name(seconds: float) -> str:
    return f"slo_{int(seconds)}"


def compute(rows: list[Dependency], now: datetime | None = None) -> dict[int, Figures]:
    """The figures of each row's SLO (rows without one are left out): one query of the
    rollups for every window of every SLO, one of the rows' time since their last check."""
    now = now or timezone.now()
    slos = {row.id: slo for row in rows if (slo := Slo.from_stored(row.slo))}
    if not slos:
        return {}
    windows = dict(BURN_WINDOWS)
    windows |= {_window_name(slo.window): timedelta(seconds=slo.window) for slo in slos.values()}
    tallies = window_tallies(windows, list(slos), now)
    found = {}
    for dependency_id, slo in slos.items():
        its = tallies.get(dependency_id, {})
        found[dependency_id] = figures(slo, its.get(_window_name(slo.window), Tally()), its)
    return found


@dataclass(frozen=True)
class AlertChange:
    """A dependency whose burn alert rose, fell or cleared at a refresh."""

    dependency: Dependency
    previous: str
    current: str
    figures: Figures


def refresh(now: datetime | None = None) -> list[AlertChange]:
    """Store each active dependency's SLO figures on its row ({} without an SLO); the rows
    whose alert changed. An alert in force when its SLO is removed, or its dependency
    archived, is cleared: nobody must be left paged for it. Rows are locked in id order, as
    recording locks them."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Dependency.objects.filter(Q(archived_at__isnull=True) | Q(slo_figures__has_key="alert"))
            .select_for_update()
            .order_by("id")
            .only(
                "id",
                "name",
                "kind",
                "group",
                "critical",
                "status",
                "archived_at",
                "slo",
                "slo_figures",
            )
        )
        computed = compute([row for row in rows if row.archived_at is None], now)
        changed, alerts = [], []
        for row in rows:
            found = computed.get(row.id)
            stored = found.stored() if found else {}
            if stored == row.slo_figures:
                continue
            previous = (row.slo_figures or {}).get("alert", "")
            current = found.alert if found else ""
            if current != previous:
                told = found or Figures(**(row.slo_figures | {"alert": "", "rule": ""}))
                alerts.append(AlertChange(row, previous, current, told))
            row.slo_figures = stored
            changed.append(row)
        update_rows(Dependency, changed, ["slo_figures"])
        _tell(alerts, now)
    return alerts


def _tell(alerts: list[AlertChange], now: datetime) -> None:
    """The log, and the outbox (notifications/slo_burns.py): whom to tell, written with the
    alert it tells of. A bug there must not cost the refresh: its savepoint is rolled back
    alone, and the ERROR says which alerts went untold."""
    for change in alerts:
        if change.current:
            log.warning(
                "%s: SLO burn alert %s (%s)",
                change.dependency.name,
                change.current,
                change.figures.rule,
            )
        else:
            log.warning("%s: SLO burn alert %s cleared", change.dependency.name, change.previous)
    if not alerts:
        return
    try:
        with transaction.atomic():
            record_burns(alerts, now)
    except Exception:  # the figures are kept, whatever routing does
        told = ", ".join(
            f"{c.dependency.name} {c.previous or 'none'} -> {c.current or 'none'}"
            for c in alerts[:10]
        )
        log.exception("notifications of %d SLO burn alerts were not written: %s", len(alerts), told)


def budget_over_time(
    dependency: Dependency, now: datetime | None = None
) -> list[tuple[datetime, float]]:
    """The budget left at the end of each hour of the SLO's window, oldest first: what the
    downtime from the window's start to that hour has spent of the window's budget (as
    figures() counts it, so that the last point is about the headline)."""
    slo = Slo.from_stored(dependency.slo)
    if slo is None:
        return []
    now = now or timezone.now()
    since = bucket_start(now - timedelta(seconds=slo.window), Period.HOUR)
    hours = Rollup.objects.filter(dependency=dependency, period=Period.HOUR, start__gte=since)
    rows = list(hours.order_by("start").values_list("start", "down_seconds", "maintenance_seconds"))
    if not rows:
        return []
    maintenance = sum(row[2] for row in rows)
    allowed = slo.budget * max(slo.window - maintenance, 0.0)
    if not allowed:
        return []
    down, points = 0.0, []
    for start, down_seconds, _ in rows:
        down += down_seconds
        points.append((start + timedelta(hours=1), 1 - down / allowed))
    return points
