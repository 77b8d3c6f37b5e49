"""Rollups: each dependency's checks counted per minute, hour and UTC day.

Recording adds every outcome to its three buckets in the same transaction. Readers ask
windows of them: uptime over 24h (hour buckets), 7d and 30d (day buckets) for every
dependency in one query; latency percentiles per chart point from the histogram. Raw
results can then be pruned without changing any figure.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from probes.models import Dependency, Period, Rollup
from probes.outcomes import Outcome, Result
from probes.row_updates import update_rows

# Upper bounds (ms) of the latency histogram; one more bucket holds anything slower. The
# same bounds, in seconds, are the Prometheus histogram's `le` buckets.
LATENCY_BOUNDS_MS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
PERIOD_LENGTH = {
    Period.MINUTE: timedelta(minutes=1),
    Period.HOUR: timedelta(hours=1),
    Period.DAY: timedelta(days=1),
}
# Uptime windows, and the buckets they are summed from.
UPTIME_WINDOWS = {"24h": (Period.HOUR, 24), "7d": (Period.DAY, 7), "30d": (Period.DAY, 30)}
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

    def write_to(self, rollup: Rollup) -> None:
        for name in ("count", "failures", "degraded", "latency_count", "latency_sum"):
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


def add(outcomes: Sequence[tuple[int, Outcome]]) -> None:
    """Count outcomes into their minute, hour and day buckets: three queries, in bulk.

    Call within the transaction that holds the dependencies' rows locked (recording does):
    nobody else then writes their buckets, so reading, adding and writing back is safe.
    """
    tallies: dict[tuple[int, str, datetime], Tally] = {}
    for dependency_id, outcome in outcomes:
        for period in Period:
            key = (dependency_id, period.value, bucket_start(outcome.checked_at, period))
            tallies.setdefault(key, Tally()).add(outcome)
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


_COUNTED = [
    "count",
    "failures",
    "degraded",
    "latency_count",
    "latency_sum",
    "latency_min",
    "latency_max",
    "histogram",
]


# --- reading ---------------------------------------------------------------------------


def uptimes(
    dependency_ids: Iterable[int] | None = None, now: datetime | None = None
) -> dict[int, dict[str, float | None]]:
    """Uptime over 24h, 7d and 30d per dependency, in one query."""
    now = now or timezone.now()
    sums: dict[str, Sum] = {}
    windows = Q()
    for name, (period, buckets) in UPTIME_WINDOWS.items():
        since = bucket_start(now, period) - PERIOD_LENGTH[period] * (buckets - 1)
        in_window = Q(period=period, start__gte=since)
        windows |= in_window
        sums[f"count_{name}"] = Sum("count", filter=in_window)
        sums[f"failures_{name}"] = Sum("failures", filter=in_window)
    rows = Rollup.objects.filter(windows)
    if dependency_ids is not None:
        rows = rows.filter(dependency_id__in=list(dependency_ids))
    figures = {}
    for row in rows.values("dependency_id").annotate(**sums).order_by():
        figures[row["dependency_id"]] = {
            name: (1 - (row[f"failures_{name}"] or 0) / row[f"count_{name}"])
            if row[f"count_{name}"]
            else None
            for name in UPTIME_WINDOWS
        }
    return figures


REFRESH_SECONDS = 60
UPTIME_FIELDS = [f"uptime_{window}" for window in UPTIME_WINDOWS]


def refresh_uptimes(now: datetime | None = None) -> int:
    """Store each active dependency's uptime windows on its row; how many changed.

    Rows are locked in id order, as recording locks them, so the two never deadlock.
    """
    figures = uptimes(None, now)
    with transaction.atomic():
        rows = list(
            Dependency.objects.active()
            .select_for_update()
            .order_by("id")
            .only("id", *UPTIME_FIELDS)
        )
        changed = []
        for row in rows:
            fresh = figures.get(row.id, {})
            values = [fresh.get(window) for window in UPTIME_WINDOWS]
            if values != [getattr(row, name) for name in UPTIME_FIELDS]:
                for name, value in zip(UPTIME_FIELDS, values, strict=True):
                    setattr(row, name, value)
                changed.append(row)
        update_rows(Dependency, changed, UPTIME_FIELDS)
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
