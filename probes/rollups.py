"""Rollups: each dependency's checks and time counted per minute, hour and UTC day.

Recording adds every outcome, and the time in each status since the check before
(probes/status_time.py), to their three buckets in the same transaction. Readers ask windows
of them: uptime over 24h, 7d and 30d for every dependency in one query (time up and
degraded over the time known: README, "Uptime is time"); latency percentiles per chart point
from the histogram. Raw results can then be pruned without changing any figure.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from probes import maintenance_reader, status_time
from probes.models import Dependency, Period, Rollup
from probes.outcomes import Outcome, Result
from probes.row_updates import update_rows
from probes.status_time import CATEGORIES, Span

# Upper bounds (ms) of the latency histogram; one more bucket holds anything slower. The
# same bounds, in seconds, are the Prometheus histogram's `le` buckets.
LATENCY_BOUNDS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
PERIOD_LENGTH = {
    Period.MINUTE: timedelta(minutes=1),
    Period.HOUR: timedelta(hours=1),
    Period.DAY: timedelta(days=1),
}
# Chart windows: the buckets read, and how many of them make one point.
CHART_WINDOWS = {
    "1h": (Period.MINUTE, timedelta(hours=1), 1),
    "24h": (Period.MINUTE, timedelta(hours=24), 10),
    "7d": (Period.HOUR, timedelta(days=7), 1),
    "30d": (Period.HOUR, timedelta(days=30), 4),
}


def latency_bucket(latency_ms: float) -> int:
    """The histogram bucket a latency falls in."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, latency_ms)


def bucket_start(moment: datetime, period: Period) -> datetime:
    moment = moment.astimezone(UTC)
    if period == Period.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if period == Period.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Tally:
    """Counts of checks and their latencies: a bucket, a chart point, a window."""

    count: int = 0
    failures: int = 0
    degraded: int = 0
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    histogram: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))
    # Seconds spent in each of status_time.CATEGORIES.
    up_seconds: float = 0.0
    degraded_seconds: float = 0.0
    down_seconds: float = 0.0
    maintenance_seconds: float = 0.0

    @property
    def known_seconds(self) -> float:
        """The time uptime is measured over: up, degraded or down, outside any window."""
        return self.up_seconds + self.degraded_seconds + self.down_seconds

    @property
    def uptime(self) -> float | None:
        known = self.known_seconds
        return (self.up_seconds + self.degraded_seconds) / known if known else None

    def add_seconds(self, seconds: dict[str, float]) -> None:
        for category, amount in seconds.items():
            setattr(self, f"{category}_seconds", getattr(self, f"{category}_seconds") + amount)

    def add(self, outcome: Outcome) -> None:
        self.count += 1
        self.failures += outcome.result is Result.FAILURE
        self.degraded += outcome.result is Result.DEGRADED
        latency = outcome.latency_ms
        if latency is not None:
            self.latency_count += 1
            self.latency_sum += latency
            self.latency_min = (
                latency if self.latency_min is None else min(self.latency_min, latency)
            )
            self.latency_max = (
                latency if self.latency_max is None else max(self.latency_max, latency)
            )
            self.histogram[latency_bucket(latency)] += 1

    def merge(self, other: Tally | Rollup) -> None:
        self.count += other.count
        self.failures += other.failures
        self.degraded += other.degraded
        self.latency_count += other.latency_count
        self.latency_sum += other.latency_sum
        self.latency_min = _least(self.latency_min, other.latency_min)
        self.latency_max = _most(self.latency_max, other.latency_max)
        for index, n in enumerate(other.histogram or ()):
            self.histogram[index] += n
        self.add_seconds({c: getattr(other, f"{c}_seconds") for c in CATEGORIES})

    def write_to(self, rollup: Rollup) -> None:
        for name in ("count", "failures", "degraded", "latency_count", "latency_sum", *SECONDS):
            setattr(rollup, name, getattr(self, name))
        rollup.latency_min, rollup.latency_max = self.latency_min, self.latency_max
        rollup.histogram = list(self.histogram)

    def percentile(self, q: float) -> float | None:
        """Latency (ms) under which a share `q` of checks answered, from the histogram.

        Interpolated within its bucket and kept within the observed min and max, so a
        bucket's width is the worst error and usually far less.
        """
        if not self.latency_count:
            return None
        target = q * self.latency_count
        seen = 0
        for index, n in enumerate(self.histogram):
            if n and seen + n >= target:
                lower = LATENCY_BOUNDS_MS[index - 1] if index else 0.0
                upper = (
                    LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else self.latency_max
                )
                value = lower + (upper - lower) * (target - seen) / n
                return min(max(value, self.latency_min), self.latency_max)
            seen += n
        return self.latency_max


def _least(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _most(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


# --- writing ---------------------------------------------------------------------------


SECONDS = [f"{category}_seconds" for category in CATEGORIES]


def add(outcomes: Sequence[tuple[int, Outcome]], spans: Sequence[tuple[int, Span]] = ()) -> None:
    """Count outcomes, and the spans of time in each status, into their minute, hour and day
    buckets: three queries, in bulk.

    Call within the transaction that holds the dependencies' rows locked (recording does):
    nobody else then writes their buckets, so reading, adding and writing back is safe.
    """
    tallies: dict[tuple[int, str, datetime], Tally] = {}
    for dependency_id, outcome in outcomes:
        for period in Period:
            key = (dependency_id, period.value, bucket_start(outcome.checked_at, period))
            tallies.setdefault(key, Tally()).add(outcome)
    by_dependency: dict[int, list[Span]] = {}
    for dependency_id, span in spans:
        by_dependency.setdefault(dependency_id, []).append(span)
    for dependency_id, its_spans in by_dependency.items():
        for period in Period:
            for start, seconds in _seconds_per_bucket(its_spans, period).items():
                key = (dependency_id, period.value, start)
                tallies.setdefault(key, Tally()).add_seconds(seconds)
    if not tallies:
        return
    existing = {
        (r.dependency_id, r.period, r.start): r
        for r in Rollup.objects.filter(
            dependency_id__in={key[0] for key in tallies},
            start__in={key[2] for key in tallies},
        )
    }
    changed, created = [], []
    for key, tally in tallies.items():
        rollup = existing.get(key)
        if rollup is None:
            rollup = Rollup(dependency_id=key[0], period=key[1], start=key[2])
            created.append(rollup)
        else:
            tally.merge(rollup)
            changed.append(rollup)
        tally.write_to(rollup)
    update_rows(Rollup, changed, _COUNTED)
    Rollup.objects.bulk_create(created)


def _seconds_per_bucket(spans: list[Span], period: Period) -> dict[datetime, dict[str, float]]:
    """Seconds per category in each bucket of `period` the spans cross."""
    buckets: dict[datetime, dict[str, float]] = {}
    for span in spans:
        moment = span.start
        while moment < span.end:
            start = bucket_start(moment, period)
            end = min(span.end, start + PERIOD_LENGTH[period])
            seconds = buckets.setdefault(start, dict.fromkeys(CATEGORIES, 0.0))
            seconds[span.category] += (end - moment).total_seconds()
            moment = end
    return buckets


_COUNTED = [
    "count",
    "failures",
    "degraded",
    "latency_count",
    "latency_sum",
    "latency_min",
    "latency_max",
    "histogram",
    *SECONDS,
]


# --- reading ---------------------------------------------------------------------------


def window_buckets(since: datetime, now: datetime) -> Q:
    """The buckets that make up [since, now), each counted once. Up to a day: minutes to the
    first whole hour, then hours. Longer: hours from the hour holding `since` to the first
    whole day, then days (minute buckets are not kept that long; the window is then up to an
    hour longer than asked, 0.14% of 30 days)."""
    day = PERIOD_LENGTH[Period.DAY]
    if now - since <= day:
        hour = _ceil(since, Period.HOUR)
        minutes = Q(period=Period.MINUTE, start__gte=bucket_start(since, Period.MINUTE))
        return (minutes & Q(start__lt=hour)) | Q(period=Period.HOUR, start__gte=hour)
    first_day = _ceil(since, Period.DAY)
    hours = Q(period=Period.HOUR, start__gte=bucket_start(since, Period.HOUR))
    return (hours & Q(start__lt=first_day)) | Q(period=Period.DAY, start__gte=first_day)


def _ceil(moment: datetime, period: Period) -> datetime:
    start = bucket_start(moment, period)
    return start if start == moment else start + PERIOD_LENGTH[period]


_SUMMED = ["count", "failures", "degraded", *SECONDS]


def window_tallies(
    windows: dict[str, timedelta],
    dependency_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> dict[int, dict[str, Tally]]:
    """Each dependency's checks and time over each window ending now: one query of the
    rollups, one of the rows for the time since their last check (not yet in a bucket).
    Latencies are not summed. Dependencies without a bucket in any window are left out."""
    now = now or timezone.now()
    sums: dict[str, Sum] = {}
    every = Q()
    for name, length in windows.items():
        in_window = window_buckets(now - length, now)
        every |= in_window
        sums |= {f"{column}_{name}": Sum(column, filter=in_window) for column in _SUMMED}
    rows = Rollup.objects.filter(every)
    if dependency_ids is not None:
        dependency_ids = list(dependency_ids)
        rows = rows.filter(dependency_id__in=dependency_ids)
    figures: dict[int, dict[str, Tally]] = {}
    for row in rows.values("dependency_id").annotate(**sums).order_by():
        figures[row["dependency_id"]] = {
            name: Tally(**{column: row[f"{column}_{name}"] or 0 for column in _SUMMED})
            for name in windows
        }
    _add_open_spans(figures, windows, now)
    return figures


def _add_open_spans(
    figures: dict[int, dict[str, Tally]], windows: dict[str, timedelta], now: datetime
) -> None:
    """Each row's time since its last check, added to each of its windows."""
    if not figures:
        return
    longest = max(windows.values())
    held = Dependency.objects.filter(id__in=list(figures), last_checked_at__gte=now - longest)
    for dependency_id, spans in open_spans(held.only(*status_time.HOLDING_FIELDS), now).items():
        for name, length in windows.items():
            tally = figures[dependency_id][name]
            for span in status_time.clipped(spans, now - length):
                tally.add_seconds({span.category: span.seconds})


def open_spans(rows: Iterable[Dependency], until: datetime) -> dict[int, list[Span]]:
    """Each row's time from its last check to `until`, as far as its status holds, in spans
    of its status and of its maintenance windows: not yet in a bucket (recording adds it
    with the next check), so every reader of a window ending now adds it."""
    rows = [row for row in rows if row.last_checked_at and row.last_checked_at < until]
    if not rows:
        return {}
    in_effect = maintenance_reader.now_in_effect(until)
    since = min(row.last_checked_at for row in rows)
    maintenance = status_time.MaintenanceSpans(in_effect.windows, since, until)
    return {row.id: status_time.since_last_check(row, until, maintenance) for row in rows}


UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
# A window measured over less of its length than this says so ("over 3 h of data").
FULL_COVERAGE = 0.99


def uptimes(
    dependency_ids: Iterable[int] | None = None, now: datetime | None = None
) -> dict[int, dict[str, float | None]]:
    """Uptime over 24h, 7d and 30d per dependency: time up or degraded over time known."""
    return {
        dependency_id: {name: tally.uptime for name, tally in tallies.items()}
        for dependency_id, tallies in window_tallies(UPTIME_WINDOWS, dependency_ids, now).items()
    }


REFRESH_SECONDS = 60
UPTIME_FIELDS = [f"uptime_{window}" for window in UPTIME_WINDOWS]
STORED_FIELDS = [*UPTIME_FIELDS, "uptime_coverage"]


def refresh_uptimes(now: datetime | None = None) -> int:
    """Store each active dependency's uptime windows, and the seconds each was measured
    over, on its row; how many changed.

    Rows are locked in id order, as recording locks them, so the two never deadlock.
    """
    tallies = window_tallies(UPTIME_WINDOWS, None, now)
    with transaction.atomic():
        rows = list(
            Dependency.objects.active()
            .select_for_update()
            .order_by("id")
            .only("id", *STORED_FIELDS)
        )
        changed = []
        for row in rows:
            fresh = tallies.get(row.id, {})
            values = [t.uptime if (t := fresh.get(w)) else None for w in UPTIME_WINDOWS]
            coverage = {w: round(t.known_seconds, 1) for w, t in fresh.items() if t.known_seconds}
            if values != [getattr(row, name) for name in UPTIME_FIELDS] or (
                coverage != row.uptime_coverage
            ):
                for name, value in zip(UPTIME_FIELDS, values, strict=True):
                    setattr(row, name, value)
                row.uptime_coverage = coverage
                changed.append(row)
        update_rows(Dependency, changed, STORED_FIELDS)
    return len(changed)


def series(
    dependency_id: int, window: str, now: datetime | None = None
) -> list[tuple[datetime, Tally]]:
    """One point per slot of the chart window, oldest first; an empty Tally where no check ran."""
    period, length, per_point = CHART_WINDOWS[window]
    now = now or timezone.now()
    step = PERIOD_LENGTH[period] * per_point
    # Slots on the clock (10:20, 10:30, ...), the last one holding now.
    seconds = bucket_start(now, period).timestamp()
    last = datetime.fromtimestamp(seconds - seconds % step.total_seconds(), UTC)
    first = last - length + step
    points: dict[datetime, Tally] = {}
    slot = first
    while slot <= last:
        points[slot] = Tally()
        slot += step
    starts = sorted(points)
    for rollup in Rollup.objects.filter(
        dependency_id=dependency_id, period=period, start__gte=first, start__lt=last + step
    ):
        index = bisect.bisect_right(starts, rollup.start) - 1
        points[starts[index]].merge(rollup)
    return list(points.items())
