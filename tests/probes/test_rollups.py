from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from probes import rollups, tasks
from probes.models import Dependency, Period, Rollup
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.rollups import LATENCY_BOUNDS_MS, Tally, bucket_start
from probes.scheduler import job_for
from tests.factories import T0, make_dependency

SUCCESS = Outcome(latency_ms=40.0)
DEGRADED = Outcome(latency_ms=3000.0, warnings=("slow",))
FAILURE = Outcome(error_class=ErrorClass.CONNECT, detail="connection refused")


def tally_of(*latencies: float) -> Tally:
    tally = Tally()
    for latency in latencies:
        tally.add(Outcome(latency_ms=latency))
    return tally


def histogram_with(**counts: int) -> list[int]:
    """A histogram with `counts` by bucket index, written as i<index>=n."""
    histogram = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    for name, n in counts.items():
        histogram[int(name[1:])] = n
    return histogram


class TestTally:
    @pytest.mark.parametrize(
        ("outcome", "counts", "latency", "histogram"),
        [
            (SUCCESS, (1, 0, 0), (1, 40.0, 40.0, 40.0), histogram_with(i5=1)),  # 25 < 40 <= 50
            (DEGRADED, (1, 0, 1), (1, 3000.0, 3000.0, 3000.0), histogram_with(i11=1)),
            (FAILURE, (1, 1, 0), (0, 0.0, None, None), histogram_with()),
        ],
        ids=["success", "degraded", "failure"],
    )
    def test_add_counts_the_check_and_its_latency(
        self, outcome, counts, latency, histogram
    ) -> None:
        tally = Tally()
        tally.add(outcome)
        assert (tally.count, tally.failures, tally.degraded) == counts
        assert (
            tally.latency_count,
            tally.latency_sum,
            tally.latency_min,
            tally.latency_max,
        ) == latency
        assert tally.histogram == histogram

    @pytest.mark.parametrize(
        ("latency", "index"),
        [(0.2, 0), (1.0, 0), (1.01, 1), (100.0, 6), (30000.0, 13), (30000.5, 14), (90000.0, 14)],
    )
    def test_a_bucket_holds_latencies_up_to_and_including_its_bound(self, latency, index) -> None:
        # The Prometheus `le` convention: the bound is inclusive; past the last is +Inf.
        assert tally_of(latency).histogram == histogram_with(**{f"i{index}": 1})

    def test_merge_adds_counts_and_histograms_and_keeps_the_extremes(self) -> None:
        tally = tally_of(5.0, 80.0)
        tally.add(FAILURE)
        other = tally_of(2.0, 600.0)
        other.add(DEGRADED)
        tally.merge(other)
        assert (tally.count, tally.failures, tally.degraded, tally.latency_count) == (6, 1, 1, 5)
        assert (tally.latency_sum, tally.latency_min, tally.latency_max) == (3687.0, 2.0, 3000.0)
        assert tally.histogram == histogram_with(i1=1, i2=1, i6=1, i9=1, i11=1)

    def test_merging_an_empty_tally_or_one_into_an_empty_tally_changes_nothing(self) -> None:
        full = tally_of(5.0, 80.0)
        into_empty = Tally()
        into_empty.merge(full)
        assert into_empty == full
        full.merge(Tally())
        assert full == tally_of(5.0, 80.0)

    def test_merge_reads_a_rollup_row_as_it_reads_a_tally(self) -> None:
        source = tally_of(12.0, 7.5)
        source.add(FAILURE)
        row = Rollup()
        source.write_to(row)
        merged = Tally()
        merged.merge(row)
        assert merged == source

    def test_without_latencies_there_is_no_percentile(self) -> None:
        tally = Tally()
        tally.add(FAILURE)
        assert tally.percentile(0.5) is None

    @pytest.mark.parametrize(
        "samples",
        [
            pytest.param([42.0] * 10, id="all-equal"),
            pytest.param([7.0], id="one-sample"),
            pytest.param([float(ms) for ms in range(1, 201)], id="1-to-200ms"),
            pytest.param(
                [20.0 + n % 7 for n in range(90)] + [3000.0 + n for n in range(10)], id="bimodal"
            ),
            pytest.param([0.3, 0.9, 31000.0, 45000.0, 120000.0], id="below-first-and-past-last"),
            pytest.param(
                [random.Random(7).lognormvariate(4, 1) for _ in range(1000)], id="lognormal"
            ),
        ],
    )
    @pytest.mark.parametrize("q", [0.0, 0.5, 0.95, 0.99, 1.0])
    def test_a_percentile_is_off_by_at_most_the_width_of_its_bucket(self, samples, q) -> None:
        tally = tally_of(*samples)
        ordered = sorted(samples)
        # Nearest rank: the smallest sample with a share q of the samples at or under it.
        exact = ordered[max(math.ceil(q * len(samples)), 1) - 1]
        index = tally_of(exact).histogram.index(1)
        lower = LATENCY_BOUNDS_MS[index - 1] if index else 0.0
        upper = LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else ordered[-1]
        estimate = tally.percentile(q)
        assert ordered[0] <= estimate <= ordered[-1]
        assert abs(estimate - exact) <= upper - lower

    @pytest.mark.parametrize(
        ("samples", "q", "expected"),
        [
            # Clamped to what was seen: one sample, or all alike, is exact.
            ([42.0] * 10, 0.5, 42.0),
            ([42.0] * 10, 0.99, 42.0),
            ([7.0], 0.95, 7.0),
            ([3.0, 4.0], 0.0, 3.0),
            ([3.0, 4.0], 1.0, 4.0),
            # Interpolated within the bucket (50, 100]: 4 samples, the median is half-way.
            ([60.0, 70.0, 80.0, 90.0], 0.5, 75.0),
        ],
    )
    def test_percentiles_are_clamped_to_the_extremes_and_interpolated_between(
        self, samples, q, expected
    ) -> None:
        assert tally_of(*samples).percentile(q) == expected


class TestBucketStart:
    @pytest.mark.parametrize(
        ("period", "start"),
        [
            (Period.MINUTE, datetime(2026, 11, 23, 10, 37, tzinfo=UTC)),
            (Period.HOUR, datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
            (Period.DAY, datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
        ],
    )
    def test_truncates_to_the_start_of_its_period_in_utc(self, period, start) -> None:
        moment = datetime(2026, 11, 23, 10, 37, 59, 999999, tzinfo=UTC)
        assert bucket_start(moment, period) == start
        assert bucket_start(start, period) == start

    @pytest.mark.parametrize(
        ("moment", "period", "start"),
        [
            # 01:30 in Tokyo is 16:30 UTC the day before: the UTC day counts, not the local one.
            (
                datetime(2026, 11, 24, 1, 30, tzinfo=ZoneInfo("Asia/Tokyo")),
                Period.DAY,
                datetime(2026, 11, 23, tzinfo=UTC),
            ),
            # India is 5:30 ahead: its 16:10 is 10:40 UTC, in the 10:00 hour, not the 16:00 one.
            (
                datetime(2026, 11, 23, 16, 10, tzinfo=ZoneInfo("Asia/Kolkata")),
                Period.HOUR,
                datetime(2026, 11, 23, 10, tzinfo=UTC),
            ),
            (
                datetime(2026, 11, 23, 5, 59, 30, tzinfo=ZoneInfo("America/New_York")),
                Period.MINUTE,
                datetime(2026, 11, 23, 10, 59, tzinfo=UTC),
            ),
        ],
    )
    def test_an_aware_moment_in_another_zone_falls_in_its_utc_bucket(
        self, moment, period, start
    ) -> None:
        assert bucket_start(moment, period) == start
        assert bucket_start(moment, period).utcoffset() == timedelta(0)


def check(seconds: float, latency: float | None = 12.5, **kwargs) -> Outcome:
    return Outcome(latency_ms=latency, checked_at=T0 + timedelta(seconds=seconds), **kwargs)


def refused(seconds: float) -> Outcome:
    return Outcome(
        error_class=ErrorClass.CONNECT,
        detail="connection refused",
        checked_at=T0 + timedelta(seconds=seconds),
    )


def buckets(dependency) -> dict[tuple[str, datetime], Rollup]:
    return {(r.period, r.start): r for r in Rollup.objects.filter(dependency=dependency)}


@pytest.mark.django_db
class TestAdd:
    def test_a_check_lands_in_its_minute_hour_and_day_buckets(self) -> None:
        row = make_dependency()
        record([(job_for(row), check(75, latency=40.0))])  # 10:01:15
        assert set(buckets(row)) == {
            ("minute", T0 + timedelta(minutes=1)),
            ("hour", T0),
            ("day", T0.replace(hour=0)),
        }
        for rollup in buckets(row).values():
            assert (rollup.count, rollup.failures, rollup.degraded) == (1, 0, 0)
            assert (rollup.latency_count, rollup.latency_sum) == (1, 40.0)
            assert (rollup.latency_min, rollup.latency_max) == (40.0, 40.0)
            assert rollup.histogram == histogram_with(i5=1)

    def test_counts_accumulate_across_calls(self) -> None:
        row = make_dependency()
        record([(job_for(row), check(1, latency=10.0))])
        record([(job_for(row), check(31, latency=30.0, warnings=("slow",)))])
        record([(job_for(row), check(61, latency=20.0))])  # the next minute
        found = buckets(row)
        assert len(found) == 4
        first_minute = found[("minute", T0)]
        assert (first_minute.count, first_minute.degraded, first_minute.latency_sum) == (
            2,
            1,
            40.0,
        )
        assert (first_minute.latency_min, first_minute.latency_max) == (10.0, 30.0)
        assert found[("minute", T0 + timedelta(minutes=1))].count == 1
        for key in (("hour", T0), ("day", T0.replace(hour=0))):
            rollup = found[key]
            assert (rollup.count, rollup.degraded, rollup.latency_count) == (3, 1, 3)
            assert (rollup.latency_sum, rollup.latency_min, rollup.latency_max) == (
                60.0,
                10.0,
                30.0,
            )
            assert rollup.histogram == histogram_with(i3=1, i4=1, i5=1)

    def test_a_failure_counts_but_adds_no_latency(self) -> None:
        row = make_dependency()
        record([(job_for(row), check(1, latency=10.0))])
        record([(job_for(row), refused(2))])
        for rollup in buckets(row).values():
            assert (rollup.count, rollup.failures) == (2, 1)
            assert (rollup.latency_count, rollup.latency_sum) == (1, 10.0)
            assert (rollup.latency_min, rollup.latency_max) == (10.0, 10.0)
            assert sum(rollup.histogram) == 1

    def test_dependencies_recorded_together_keep_separate_buckets(self) -> None:
        first, second = make_dependency("first"), make_dependency("second")
        record([(job_for(first), check(1, latency=10.0)), (job_for(second), refused(1))])
        record([(job_for(first), check(2, latency=20.0))])
        assert [r.count for r in buckets(first).values()] == [2, 2, 2]
        assert [r.failures for r in buckets(first).values()] == [0, 0, 0]
        assert [(r.count, r.failures) for r in buckets(second).values()] == [(1, 1)] * 3
        assert Rollup.objects.count() == 6


def bucket(dependency, period: Period, start: datetime, count: int, failures: int = 0) -> Rollup:
    """A bucket of `count` checks, its time shared out as they were (up, or down if failed)."""
    length = rollups.PERIOD_LENGTH[period].total_seconds()
    return Rollup.objects.create(
        dependency=dependency,
        period=period,
        start=start,
        count=count,
        failures=failures,
        up_seconds=length * (count - failures) / count,
        down_seconds=length * failures / count,
    )


DAY0 = T0.replace(hour=0)  # 2026-11-23, a Monday
NOW = T0 + timedelta(minutes=30)


@pytest.mark.django_db
class TestUptimes:
    def test_24h_comes_from_minutes_to_the_first_whole_hour_then_hours(self) -> None:
        row = make_dependency()
        bucket(row, Period.HOUR, T0, 4, failures=1)
        bucket(row, Period.HOUR, T0 - timedelta(hours=23), 4, failures=1)
        # The hour holding the window's start is read by the minute.
        bucket(row, Period.HOUR, T0 - timedelta(hours=24), 10, failures=10)  # out
        bucket(row, Period.MINUTE, NOW - timedelta(hours=24, minutes=1), 1, failures=1)  # out
        bucket(row, Period.MINUTE, NOW - timedelta(hours=24), 1)
        # Minute buckets past the first whole hour are not read: they would count twice.
        bucket(row, Period.MINUTE, T0, 4, failures=4)
        assert rollups.uptimes(now=NOW)[row.id]["24h"] == 5460 / 7260

    def test_7d_and_30d_come_from_day_buckets_today_included(self) -> None:
        row = make_dependency()
        bucket(row, Period.DAY, DAY0, 10, failures=1)
        bucket(row, Period.DAY, DAY0 - timedelta(days=6), 10, failures=1)
        bucket(row, Period.DAY, DAY0 - timedelta(days=7), 10, failures=8)  # 30d only
        bucket(row, Period.DAY, DAY0 - timedelta(days=29), 10, failures=0)  # 30d only
        bucket(row, Period.DAY, DAY0 - timedelta(days=30), 10, failures=10)  # out
        bucket(row, Period.HOUR, T0, 10, failures=10)  # hours are the 24h window's
        figures = rollups.uptimes(now=NOW)[row.id]
        assert figures["7d"] == 0.9
        assert figures["30d"] == 0.75
        assert figures["24h"] == 0.0

    def test_a_window_without_checks_is_none(self) -> None:
        row = make_dependency()
        bucket(row, Period.DAY, DAY0 - timedelta(days=10), 10)
        assert rollups.uptimes(now=NOW) == {row.id: {"24h": None, "7d": None, "30d": 1.0}}

    def test_a_dependency_without_buckets_in_any_window_is_left_out(self) -> None:
        never = make_dependency("never")
        long_ago = make_dependency("long-ago")
        bucket(long_ago, Period.DAY, DAY0 - timedelta(days=31), 10)
        figures = rollups.uptimes(now=NOW)
        assert never.id not in figures
        assert long_ago.id not in figures

    def test_asks_only_for_the_dependencies_named(self) -> None:
        rows = [make_dependency(f"dep-{n}") for n in range(3)]
        for n, row in enumerate(rows):
            bucket(row, Period.HOUR, T0, 4, failures=n)
            bucket(row, Period.DAY, DAY0, 4, failures=n)
        figures = rollups.uptimes([rows[0].id, rows[2].id], now=NOW)
        assert figures == {
            rows[0].id: {"24h": 1.0, "7d": 1.0, "30d": 1.0},
            rows[2].id: {"24h": 0.5, "7d": 0.5, "30d": 0.5},
        }
        assert rollups.uptimes([], now=NOW) == {}

    def test_every_dependency_in_two_queries(self) -> None:
        for n in range(5):
            row = make_dependency(f"dep-{n}")
            bucket(row, Period.HOUR, T0, 4)
            bucket(row, Period.DAY, DAY0 - timedelta(days=n), 4)
        with CaptureQueriesContext(connection) as captured:
            figures = rollups.uptimes(now=NOW)
        # The rollups, and the rows for the time since their last check (they have none).
        assert len(captured) == 2
        assert len(figures) == 5

    @freeze_time(NOW)
    def test_now_defaults_to_the_clock(self) -> None:
        row = make_dependency()
        bucket(row, Period.HOUR, T0 - timedelta(hours=23), 2, failures=1)
        bucket(row, Period.HOUR, T0 - timedelta(hours=24), 2, failures=2)
        assert rollups.uptimes()[row.id]["24h"] == 0.5

    def test_follows_what_recording_wrote(self) -> None:
        row = make_dependency(failure_threshold=2)
        record([(job_for(row), check(1))])
        record([(job_for(row), refused(2))])
        record([(job_for(row), check(3))])
        record([(job_for(row), refused(4))])
        record([(job_for(row), refused(5))])
        # Up from 1 s to 2 s, degraded (a failure below the threshold: up, for uptime) to
        # 3 s, up to 4 s, degraded to 5 s, then down for as long as the open breaker holds
        # (its 60 s recovery and an interval, 30 s): 4 s up of 94.
        day = Rollup.objects.get(dependency=row, period=Period.DAY)
        assert (day.up_seconds, day.degraded_seconds, day.down_seconds) == (2, 2, 0)
        assert rollups.uptimes(now=NOW) == {row.id: dict.fromkeys(("24h", "7d", "30d"), 4 / 94)}


@pytest.mark.django_db
class TestSeries:
    @pytest.mark.parametrize(
        ("window", "slots", "first", "last", "step"),
        [
            ("1h", 60, T0 - timedelta(minutes=59), T0, timedelta(minutes=1)),
            # Slots on the clock: 10-minute and 4-hour slots start at round times.
            (
                "24h",
                144,
                T0 - timedelta(hours=24) + timedelta(minutes=10),
                T0,
                timedelta(minutes=10),
            ),
            ("7d", 168, T0 - timedelta(hours=167), T0, timedelta(hours=1)),
            ("30d", 180, T0 - timedelta(hours=718), T0 - timedelta(hours=2), timedelta(hours=4)),
        ],
    )
    def test_one_slot_per_point_of_the_window_empty_ones_included(
        self, window, slots, first, last, step
    ) -> None:
        row = make_dependency()
        points = rollups.series(row.id, window, now=T0 + timedelta(seconds=30))
        starts = [start for start, _ in points]
        assert len(points) == slots
        assert (starts[0], starts[-1]) == (first, last)
        assert all(later - earlier == step for earlier, later in pairwise(starts))
        assert all(tally == Tally() for _, tally in points)

    def test_buckets_are_merged_into_the_point_whose_slot_holds_them(self) -> None:
        row, other = make_dependency(), make_dependency("other")
        now = T0 + timedelta(seconds=30)

        def minute(minutes_ago: int, *latencies: float, failures: int = 0) -> None:
            tally = tally_of(*latencies)
            for _ in range(failures):
                tally.add(FAILURE)
            rollup = Rollup(
                dependency=row, period=Period.MINUTE, start=T0 - timedelta(minutes=minutes_ago)
            )
            tally.write_to(rollup)
            rollup.save()

        # The 24h window's last point is 10:00 to 10:09, the one before 09:50 to 09:59.
        minute(0, 30.0)
        minute(4, 10.0, failures=1)
        minute(9, 20.0)
        minute(10, 500.0)
        minute(24 * 60, 1.0)  # 10:00 yesterday: before the first slot
        bucket(other, Period.MINUTE, T0, 7)
        points = dict(rollups.series(row.id, "24h", now=now))
        assert points[T0] == tally_of(30.0)
        before = points[T0 - timedelta(minutes=10)]
        assert (before.count, before.failures, before.latency_count) == (4, 1, 3)
        assert (before.latency_sum, before.latency_min, before.latency_max) == (530.0, 10.0, 500.0)
        assert before.histogram == histogram_with(i3=1, i4=1, i8=1)
        assert sum(tally.count for tally in points.values()) == 5
        # The 1h window keeps every minute apart.
        by_minute = dict(rollups.series(row.id, "1h", now=now))
        assert [by_minute[T0 - timedelta(minutes=m)].count for m in (0, 4, 9, 10)] == [1, 2, 1, 1]

    def test_the_7d_and_30d_charts_read_hour_buckets(self) -> None:
        row = make_dependency()
        for hours_ago in (0, 1, 2, 3, 4, 167, 168):
            bucket(row, Period.HOUR, T0 - timedelta(hours=hours_ago), 1)
        bucket(row, Period.DAY, DAY0, 100)
        bucket(row, Period.MINUTE, T0, 100)
        week = dict(rollups.series(row.id, "7d", now=T0))
        assert sum(t.count for t in week.values()) == 6  # 168 hours ago is out
        month = dict(rollups.series(row.id, "30d", now=T0))
        assert month[T0 - timedelta(hours=2)].count == 3  # 08:00 to 11:59
        assert month[T0 - timedelta(hours=6)].count == 2  # 04:00 to 07:59
        assert sum(t.count for t in month.values()) == 7

    @freeze_time(T0 + timedelta(seconds=30))
    def test_now_defaults_to_the_clock(self) -> None:
        row = make_dependency()
        bucket(row, Period.MINUTE, T0, 3)
        [*_, (start, tally)] = rollups.series(row.id, "1h")
        assert (start, tally.count) == (T0, 3)


@pytest.mark.django_db
class TestRefreshUptimes:
    @freeze_time(T0)
    def test_stores_the_windows_on_the_rows_and_writes_only_what_changed(self) -> None:
        row, quiet = make_dependency(), make_dependency("quiet")
        archived = make_dependency("old", archived_at=T0)
        bucket(row, Period.HOUR, T0, 10, failures=1)
        bucket(row, Period.DAY, DAY0, 20, failures=1)
        bucket(archived, Period.HOUR, T0, 10)
        assert rollups.refresh_uptimes() == 1  # quiet has no checks: nothing to store
        row.refresh_from_db()
        assert (row.uptime_24h, row.uptime_7d, row.uptime_30d) == (0.9, 0.95, 0.95)
        quiet.refresh_from_db()
        assert (quiet.uptime_24h, quiet.uptime_7d, quiet.uptime_30d) == (None, None, None)
        assert Dependency.objects.get(pk=archived.pk).uptime_24h is None
        with CaptureQueriesContext(connection) as captured:
            assert rollups.refresh_uptimes() == 0
        assert not [q for q in captured if q["sql"].startswith("UPDATE")]

    def test_the_task_refreshes(self) -> None:
        row = make_dependency()
        bucket(row, Period.DAY, rollups.bucket_start(timezone.now(), Period.DAY), 4, failures=1)
        assert tasks.refresh_uptimes() == 1
        row.refresh_from_db()
        assert row.uptime_7d == 0.75
