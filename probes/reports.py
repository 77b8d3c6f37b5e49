"""The monthly report: each dependency's month in figures, for `/dependencies/<name>/report`
and `manage.py slo_report`. Availability over the time known, the SLO met or not and the
share of its budget the month used, incidents, and the time left out (maintenance) or not
known (the prober not running).

A month runs from midnight on its 1st to midnight on the next 1st in
SEAHEALTH_REPORT_TIMEZONE (UTC unless set). Its time is that of the hour rollups whose start
lies in that span. In a zone whose offset is not a whole number of hours (Asia/Kolkata,
+05:30) a month's ends fall inside a UTC hour: both move on to the next whole hour (00:30
on the 1st, Kolkata time), so that every hour counts in exactly one month. Minute buckets
would place the ends exactly, but they are kept only SEAHEALTH_RAW_RETENTION.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from probes import rollups, status_time
from probes.excerpts import excerpt
from probes.incidents import MONTH
from probes.models import Dependency, Incident, Period, Rollup
from probes.rollups import FULL_COVERAGE, SECONDS
from probes.slo import Slo, format_percent

# Rollups hold nothing older; a year before 1970 is a typo, and year 1's midnight in a zone
# east of UTC is not a datetime at all.
EARLIEST_YEAR = 1970
HOUR = timedelta(hours=1)


class BadMonth(ValueError):
    """A month the report cannot be made for; its text says why."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    number: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.number:02d}"

    @classmethod
    def holding(cls, moment: datetime, zone: ZoneInfo) -> Month:
        local = moment.astimezone(zone)
        return cls(local.year, local.month)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.number == 1 else Month(self.year, self.number - 1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.number == 12 else Month(self.year, self.number + 1)

    def begins(self, zone: ZoneInfo) -> datetime:
        """Midnight on the 1st in `zone`, in UTC."""
        return datetime(self.year, self.number, 1, tzinfo=zone).astimezone(UTC)

    def span(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC as measured: the whole hours from the month's first to the
        next month's first (module doc)."""
        return _ceil_hour(self.begins(zone)), _ceil_hour(self.next().begins(zone))


def _ceil_hour(moment: datetime) -> datetime:
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour if hour == moment else hour + HOUR


def report_zone() -> ZoneInfo:
    return ZoneInfo(settings.SEAHEALTH_REPORT_TIMEZONE)


def read_month(text: str, zone: ZoneInfo, now: datetime | None = None) -> Month:
    """`2026-11` as a Month that has begun in `zone`; BadMonth saying why otherwise."""
    if not re.match(MONTH, text):
        raise BadMonth(f"a month is written YYYY-MM, such as 2026-11; got {excerpt(text)}")
    month = Month(int(text[:4]), int(text[5:7]))
    if month.year < EARLIEST_YEAR:
        raise BadMonth(f"{month} is before {EARLIEST_YEAR}: nothing is measured that early")
    current = Month.holding(now or timezone.now(), zone)
    if month > current:
        raise BadMonth(f"{month} has not begun yet ({zone.key}): the latest is {current}")
    return month


def last_whole_month(zone: ZoneInfo, now: datetime | None = None) -> Month:
    return Month.holding(now or timezone.now(), zone).previous()


@dataclass(frozen=True)
class MonthFigures:
    """One dependency's month: time in seconds, ratios from 0 to 1."""

    dependency: str
    archived: bool
    month: Month
    zone: str
    start: datetime  # UTC, as measured
    end: datetime  # the month's end, or now while it lasts
    up_seconds: float
    degraded_seconds: float
    down_seconds: float
    maintenance_seconds: float
    objective: float | None  # the SLO declared now; None without one
    incidents: int  # incidents inside the month, in part or whole
    longest_incident: float  # seconds of the longest inside the month
    incident_seconds: float  # their time inside the month (an open one: until now)

    @property
    def elapsed(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0)

    @property
    def known_seconds(self) -> float:
        return self.up_seconds + self.degraded_seconds + self.down_seconds

    @property
    def unknown_seconds(self) -> float:
        rest = self.elapsed - self.known_seconds - self.maintenance_seconds
        return max(rest, 0.0)  # float sums may cross zero by a hair

    @property
    def coverage(self) -> float | None:
        """The share of the month availability is measured over (maintenance and unknown
        time left out of it)."""
        return min(self.known_seconds / self.elapsed, 1.0) if self.elapsed else None

    @property
    def partly_measured(self) -> bool:
        return self.coverage is not None and self.coverage < FULL_COVERAGE

    @property
    def availability(self) -> float | None:
        known = self.known_seconds
        return (self.up_seconds + self.degraded_seconds) / known if known else None

    @property
    def met(self) -> bool | None:
        if self.objective is None or self.availability is None:
            return None
        return self.availability >= self.objective

    @property
    def budget_used(self) -> float | None:
        """The month's down share over the share the objective allows: 1 is all of it."""
        if self.objective is None or self.availability is None:
            return None
        return (1 - self.availability) / (1 - self.objective)

    def record(self) -> dict[str, Any]:
        """The figures for machines (csv, json): percentages and seconds, unrounded in
        meaning but free of float noise."""
        return {
            "dependency": self.dependency,
            "archived": self.archived,
            "month": str(self.month),
            "timezone": self.zone,
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "availability_percent": _percent_value(self.availability),
            "objective_percent": _percent_value(self.objective),
            "objective_met": self.met,
            "budget_used_percent": _percent_value(self.budget_used),
            "up_seconds": round(self.up_seconds, 1),
            "degraded_seconds": round(self.degraded_seconds, 1),
            "down_seconds": round(self.down_seconds, 1),
            "maintenance_seconds": round(self.maintenance_seconds, 1),
            "unknown_seconds": round(self.unknown_seconds, 1),
            "coverage_percent": _percent_value(self.coverage),
            "incidents": self.incidents,
            "longest_incident_seconds": round(self.longest_incident, 1),
            "incident_seconds": round(self.incident_seconds, 1),
        }


RECORD_COLUMNS = (
    "dependency",
    "archived",
    "month",
    "timezone",
    "start",
    "end",
    "availability_percent",
    "objective_percent",
    "objective_met",
    "budget_used_percent",
    "up_seconds",
    "degraded_seconds",
    "down_seconds",
    "maintenance_seconds",
    "unknown_seconds",
    "coverage_percent",
    "incidents",
    "longest_incident_seconds",
    "incident_seconds",
)


def _percent_value(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 6)


def reported(month: Month, zone: ZoneInfo) -> QuerySet[Dependency]:
    """The dependencies a month's report lists: the active ones, and those archived during
    or after it (they were declared for some of it)."""
    start, _ = month.span(zone)
    return Dependency.objects.filter(Q(archived_at__isnull=True) | Q(archived_at__gte=start))


def compute(
    month: Month,
    zone: ZoneInfo,
    dependencies: QuerySet[Dependency] | None = None,
    now: datetime | None = None,
) -> list[MonthFigures]:
    """The month's figures of each dependency (reported() unless given), by name: one query
    of the rows, one of the hour rollups, one of the incidents, and while the month lasts,
    one of the maintenance windows for the time since each row's last check."""
    now = now or timezone.now()
    start, month_end = month.span(zone)
    end = min(month_end, max(now, start))
    rows = dependencies if dependencies is not None else reported(month, zone)
    rows = list(rows.only(*status_time.HOLDING_FIELDS, "slo", "archived_at").order_by("name"))
    ids = [row.id for row in rows]
    # The whole report asks for every row's buckets: no list of ids for the database to
    # match, and the few rows left out are dropped here.
    narrow = dependencies is not None
    seconds = _seconds(start, end, ids if narrow else None)
    if now < month_end:
        _add_open_spans(seconds, rows, start, end)
    incidents = _incidents(start, end, now, ids if narrow else None)
    found = []
    for row in rows:
        time = seconds.get(row.id, dict.fromkeys(SECONDS, 0.0))
        durations = incidents.get(row.id, [])
        slo = Slo.from_stored(row.slo)
        found.append(
            MonthFigures(
                dependency=row.name,
                archived=row.archived_at is not None,
                month=month,
                zone=zone.key,
                start=start,
                end=end,
                **time,
                objective=slo.objective if slo else None,
                incidents=len(durations),
                longest_incident=max(durations, default=0.0),
                incident_seconds=sum(durations),
            )
        )
    return found


def _seconds(start: datetime, end: datetime, ids: list[int] | None) -> dict[int, dict[str, float]]:
    buckets = Rollup.objects.filter(period=Period.HOUR, start__gte=start, start__lt=end)
    if ids is not None:
        buckets = buckets.filter(dependency_id__in=ids)
    sums = buckets.values("dependency_id").annotate(**{c: Sum(c) for c in SECONDS}).order_by()
    return {row.pop("dependency_id"): {c: row[c] or 0.0 for c in SECONDS} for row in sums}


def _add_open_spans(
    seconds: dict[int, dict[str, float]], rows: list[Dependency], start: datetime, end: datetime
) -> None:
    """The time since each row's last check, not yet in a bucket (rollups.open_spans)."""
    active = [row for row in rows if row.archived_at is None]
    for dependency_id, spans in rollups.open_spans(active, end).items():
        time = seconds.setdefault(dependency_id, dict.fromkeys(SECONDS, 0.0))
        for span in status_time.clipped(spans, start):
            time[f"{span.category}_seconds"] += span.seconds


def _incidents(
    start: datetime, end: datetime, now: datetime, ids: list[int] | None
) -> dict[int, list[float]]:
    """Seconds inside [start, end) of each incident overlapping it, per dependency."""
    rows = Incident.objects.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end
    )
    if ids is not None:
        rows = rows.filter(dependency_id__in=ids)
    found: dict[int, list[float]] = {}
    for dependency_id, began, ended in rows.values_list("dependency_id", "started_at", "ended_at"):
        inside = (min(ended or now, end) - max(began, start)).total_seconds()
        found.setdefault(dependency_id, []).append(max(inside, 0.0))
    return found


def incidents_in(month: Month, zone: ZoneInfo, dependency: Dependency) -> QuerySet[Incident]:
    """The dependency's incidents inside the month, in part or whole, oldest first."""
    start, end = month.span(zone)
    return dependency.incidents.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start), started_at__lt=end
    ).order_by("started_at", "id")


# --- as people read it ---------------------------------------------------------------------


def spelled(seconds: float) -> str:
    """A span in its two largest units, rounded down: `2 d 4 h`, `3 h 5 min`, `42 s`."""
    seconds = int(seconds)
    parts = []
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
        elif parts:
            break  # `2 d 5 min` would read as a precision it lacks
        if len(parts) == 2:
            break
    return " ".join(parts)


def percent_text(ratio: float | None, places: int = 3) -> str:
    """Truncated, never rounded up: 99.9996% reads 99.999%, not 100%."""
    if ratio is None:
        return "-"
    scale = 10**places
    # The epsilon keeps float noise (0.999 * 100 = 99.89999...) from losing a digit.
    return f"{int(ratio * 100 * scale + 1e-6) / scale:.{places}f}%"


def readable(month: MonthFigures) -> dict[str, str]:
    """The figures as the page and the text table show them, by label."""
    met = {None: "-", True: "met", False: "missed"}[month.met]
    return {
        "availability": percent_text(month.availability),
        "objective": format_percent(month.objective) if month.objective else "no SLO",
        "objective met": met,
        "budget used": percent_text(month.budget_used, 1),
        "incidents": str(month.incidents),
        "longest incident": spelled(month.longest_incident) if month.incidents else "-",
        "down in incidents": spelled(month.incident_seconds),
        "maintenance (left out)": spelled(month.maintenance_seconds),
        "not measured": spelled(month.unknown_seconds),
    }
