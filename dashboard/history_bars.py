"""90-day history bars: a cell per UTC day, its uptime from the day rollups.

A dependency's page draws its own bar; the status page one per group, and the public status
page one per public entry. Each day's figure is its time up or degraded over its time known
(as every uptime: README, "Uptime is time"); today's cell is today so far, as recording has
counted it (its bucket holds the time up to the last check). Drawn on the server as a list of
focusable cells, each with its figure on hover and on focus, and the whole summarised for
screen readers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape

from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from dashboard.formatting import coverage, percent
from probes.durations import rough_duration
from probes.models import Dependency, Period, Rollup
from probes.rollups import bucket_start

DAYS = 90
DAY_SECONDS = 86400.0
_SECONDS = ("up_seconds", "degraded_seconds", "down_seconds", "maintenance_seconds")


@dataclass(frozen=True)
class Day:
    date: date
    measured_seconds: float = 0.0  # up, degraded or down: the time uptime is measured over
    degraded_seconds: float = 0.0
    down_seconds: float = 0.0
    maintenance_seconds: float = 0.0
    today: bool = False  # counted so far, not whole

    @property
    def uptime(self) -> float | None:
        """None: no time known (the prober did not run, or all of it in maintenance)."""
        if not self.measured_seconds:
            return None
        return (self.measured_seconds - self.down_seconds) / self.measured_seconds

    @property
    def state(self) -> str:
        """What the cell shows: the worst the day saw, or "none" without data."""
        if self.uptime is None:
            return "none"
        return "down" if self.down_seconds else "degraded" if self.degraded_seconds else "up"

    @property
    def label(self) -> str:
        """ "2026-12-06: 99.95% up, down 4 min", or "2026-12-06: no data"."""
        when = f"{self.date.isoformat()} (today so far)" if self.today else self.date.isoformat()
        parts = []
        if self.uptime is not None:
            parts.append(f"{percent(self.uptime)} up")
            for name, seconds in (("down", self.down_seconds), ("degraded", self.degraded_seconds)):
                if seconds:
                    parts.append(f"{name} {rough_duration(seconds)}")
            if not self.today and (covered := coverage(self.measured_seconds, DAY_SECONDS)):
                parts.append(covered)
        else:
            parts.append("no data")
        if self.maintenance_seconds:
            parts.append(f"maintenance {rough_duration(self.maintenance_seconds)}")
        return f"{when}: {', '.join(parts)}"


def _first_day(days: int, now: datetime | None) -> tuple[datetime, date]:
    today = bucket_start(now or timezone.now(), Period.DAY)
    return today - timedelta(days=days - 1), today.date()


def _filled(sums: dict[date, dict[str, float]], first: datetime, today: date) -> list[Day]:
    """One Day per date from `first` to `today`, oldest first; empty ones where none."""
    days = []
    moment = first.date()
    while moment <= today:
        seconds = sums.get(moment)
        days.append(
            _day(moment, seconds, moment == today)
            if seconds
            else Day(moment, today=moment == today)
        )
        moment += timedelta(days=1)
    return days


def _day(moment: date, seconds: dict[str, float], today: bool) -> Day:
    up, degraded, down, maintenance = (seconds[name] or 0.0 for name in _SECONDS)
    return Day(moment, up + degraded + down, degraded, down, maintenance, today=today)


def daily_uptimes(
    dependency_ids: Iterable[int], days: int = DAYS, now: datetime | None = None
) -> dict[int, list[Day]]:
    """Each dependency's last `days` UTC days, ending today, oldest first: one query."""
    first, today = _first_day(days, now)
    ids = list(dependency_ids)
    sums: dict[int, dict[date, dict[str, float]]] = {i: {} for i in ids}
    buckets = Rollup.objects.filter(period=Period.DAY, start__gte=first, dependency_id__in=ids)
    for row in buckets.values("dependency_id", "start", *_SECONDS):
        sums[row["dependency_id"]][row["start"].astimezone(UTC).date()] = row
    return {i: _filled(sums[i], first, today) for i in ids}


# A group's days before today change only as their last spans are recorded (a check after
# midnight ends yesterday's): each process keeps them for PAST_KEPT per set of rows asked,
# and a poll of the status page reads today's buckets alone. At a thousand dependencies the
# 90 days summed cost a poll some 200 ms on SQLite; today's alone, a few.
PAST_KEPT = timedelta(minutes=5)
_KEPT_AT_MOST = 64  # sets of rows (filters) kept
_past: dict[tuple[str, datetime], tuple[datetime, dict[str, dict[date, dict[str, float]]]]] = {}


def group_daily_uptimes(
    dependencies: QuerySet[Dependency],
    groups: Iterable[str] = (),
    days: int = DAYS,
    now: datetime | None = None,
) -> dict[str, list[Day]]:
    """The last `days` UTC days of each group of `dependencies` (and of each of `groups`,
    with or without data), time summed across its members in the database: one query, a
    row per group and day whatever the number of members (today's alone while this
    process keeps the days before)."""
    now = now or timezone.now()
    first, today = _first_day(days, now)
    key = (str(dependencies.values("id").query), first)
    kept = _past.get(key)
    if kept is not None and now < kept[0]:
        past = kept[1]
        read = _group_sums(dependencies, bucket_start(now, Period.DAY))
    else:
        read = _group_sums(dependencies, first)
        past = {
            group: {d: s for d, s in by_day.items() if d < today} for group, by_day in read.items()
        }
        if len(_past) >= _KEPT_AT_MOST:
            _past.clear()
        _past[key] = (now + PAST_KEPT, past)
    sums: dict[str, dict[date, dict[str, float]]] = {group: {} for group in groups}
    for source in (past, read):
        for group, by_day in source.items():
            sums.setdefault(group, {}).update(by_day)
    return {group: _filled(by_day, first, today) for group, by_day in sums.items()}


def _group_sums(
    dependencies: QuerySet[Dependency], since: datetime
) -> dict[str, dict[date, dict[str, float]]]:
    """Each group's seconds per day from `since`, summed in the database."""
    buckets = Rollup.objects.filter(
        period=Period.DAY, start__gte=since, dependency__in=dependencies.values("id")
    )
    sums: dict[str, dict[date, dict[str, float]]] = {}
    for row in (
        buckets.values("dependency__group", "start")
        .annotate(**{name: Sum(name) for name in _SECONDS})
        .order_by()
    ):
        sums.setdefault(row["dependency__group"], {})[row["start"].astimezone(UTC).date()] = row
    return sums


def forget() -> None:
    """Drop this process's days before today (tests start each from the database)."""
    _past.clear()


def combine(rows: list[list[Day]]) -> list[Day]:
    """Several members' days, day by day, as one: their time summed."""
    combined = []
    for same_day in zip(*rows, strict=True):
        combined.append(
            Day(
                same_day[0].date,
                sum(day.measured_seconds for day in same_day),
                sum(day.degraded_seconds for day in same_day),
                sum(day.down_seconds for day in same_day),
                sum(day.maintenance_seconds for day in same_day),
                today=same_day[0].today,
            )
        )
    return combined


def summary(days: list[Day]) -> str:
    """The whole bar in words: "99.95% up, 2 days with downtime"."""
    uptime = Day(days[0].date, *_totals(days)).uptime if days else None
    if uptime is None:
        return "no data"
    down = sum(1 for day in days if day.down_seconds)
    said = f"{percent(uptime)} up"
    return f"{said}, {down} day{'s' if down != 1 else ''} with downtime" if down else said


def _totals(days: list[Day]) -> tuple[float, float, float, float]:
    return (
        sum(day.measured_seconds for day in days),
        sum(day.degraded_seconds for day in days),
        sum(day.down_seconds for day in days),
        sum(day.maintenance_seconds for day in days),
    )


def render(days: list[Day], label: str, ids: str = "") -> SafeString:
    """The bar: a list of day cells, oldest on the left, each focusable with its figure as
    its name (and its tooltip, drawn by CSS from the same attribute); status by colour,
    height and pattern, never by colour alone. With `ids` (a prefix of letters, digits and
    dashes), each cell has an id: htmx gives the focus back to it after a poll's swap."""
    cells = "".join(_cell(day, ids) for day in days)
    said = summary(days)
    return mark_safe(  # noqa: S308 - the label escaped, the rest dates, figures and our words
        f'<div class="history"><ol class="history-days" '
        f'aria-label="{escape(label)}, last {len(days)} days: {said}">{cells}</ol>'
        f'<p class="history-scale" aria-hidden="true"><span>{len(days)} days ago</span>'
        f"<span>{said}</span><span>today</span></p></div>"
    )


def _cell(day: Day, ids: str) -> str:
    named = f' id="{ids}-{day.date}"' if ids else ""
    return f'<li class="day-{day.state}"{named} tabindex="0" aria-label="{day.label}"></li>'
