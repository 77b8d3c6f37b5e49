from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.history_bars import (
    PAST_KEPT,
    Day,
    combine,
    daily_uptimes,
    group_daily_uptimes,
    render,
)
from probes.models import Dependency, Period, Rollup
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db

TODAY = T0.replace(hour=0)  # 2026-11-23
NOW = T0 + timedelta(minutes=30)
DAY = 86400.0


def day_bucket(row, days_ago: int, up: float = DAY, down: float = 0.0, **seconds: float) -> Rollup:
    return Rollup.objects.create(
        dependency=row,
        period=Period.DAY,
        start=TODAY - timedelta(days=days_ago),
        count=10,
        up_seconds=up,
        down_seconds=down,
        **seconds,
    )


class TestDailyUptimes:
    def test_a_day_per_utc_date_oldest_first_ending_today(self) -> None:
        row = make_dependency()
        days = daily_uptimes([row.id], now=NOW)[row.id]
        assert len(days) == 90
        assert days[0].date == date(2026, 8, 26)
        assert days[-1].date == date(2026, 11, 23)
        assert [day.today for day in days[-2:]] == [False, True]

    def test_each_day_is_its_time_up_or_degraded_over_its_time_known(self) -> None:
        row = make_dependency()
        day_bucket(row, 1, up=DAY - 300, down=300)
        day_bucket(row, 2, up=DAY / 2, degraded_seconds=DAY / 2)
        day_bucket(row, 3, up=3600, maintenance_seconds=7200)
        days = daily_uptimes([row.id], now=NOW)[row.id]
        yesterday, before, third = days[-2], days[-3], days[-4]
        assert yesterday.uptime == (DAY - 300) / DAY
        assert (yesterday.down_seconds, yesterday.measured_seconds) == (300, DAY)
        assert yesterday.label == "2026-11-22: 99.65% up, down 5 min"
        assert before.uptime == 1.0
        assert before.label == "2026-11-21: 100% up, degraded 12 h"
        assert third.uptime == 1.0  # maintenance is left out of uptime
        assert third.label == "2026-11-20: 100% up, over 1 h of data, maintenance 2 h"

    def test_days_without_a_bucket_are_gaps_with_no_data(self) -> None:
        row = make_dependency()
        day_bucket(row, 10)
        day_bucket(row, 90)  # the day before the first: out
        days = daily_uptimes([row.id], now=NOW)[row.id]
        assert [day.uptime for day in days].count(None) == 89
        assert days[-11].uptime == 1.0
        assert days[0] == Day(date(2026, 8, 26))
        assert days[0].label == "2026-08-26: no data"
        assert days[0].state == "none"

    def test_a_day_all_in_maintenance_has_no_uptime(self) -> None:
        row = make_dependency()
        day_bucket(row, 1, up=0.0, maintenance_seconds=DAY)
        yesterday = daily_uptimes([row.id], now=NOW)[row.id][-2]
        assert yesterday.uptime is None
        assert yesterday.label == "2026-11-22: no data, maintenance 1 d"

    def test_today_is_today_so_far_as_recording_counted_it(self) -> None:
        row = make_dependency(failure_threshold=1)
        refused = Outcome(error_class=ErrorClass.CONNECT, detail="refused", checked_at=NOW)
        record([(job_for(row), Outcome(latency_ms=10.0, checked_at=T0))])
        record([(job_for(row), Outcome(latency_ms=10.0, checked_at=T0 + timedelta(minutes=4)))])
        record([(job_for(row), refused)])
        today = daily_uptimes([row.id], now=NOW + timedelta(minutes=1))[row.id][-1]
        # Up for 60 s after 10:00 and after 10:04 (a status holds two intervals without a
        # check); down since 10:30 is counted with the next check: today is what its bucket
        # holds so far.
        assert today.today
        assert today.measured_seconds == 120
        assert today.uptime == 1.0
        assert today.label == "2026-11-23 (today so far): 100% up"

    def test_asks_only_for_the_dependencies_named_and_knows_ones_without_buckets(self) -> None:
        first, second, other = (make_dependency(name) for name in ("a", "b", "c"))
        day_bucket(first, 0, up=100, down=100)
        day_bucket(other, 0, up=0, down=100)
        figures = daily_uptimes([first.id, second.id], now=NOW)
        assert set(figures) == {first.id, second.id}
        assert figures[first.id][-1].uptime == 0.5
        assert all(day.uptime is None for day in figures[second.id])

    def test_one_query_whatever_the_number_of_dependencies(self) -> None:
        def queries_with(count: int) -> int:
            rows = [make_dependency(f"dep-{count}-{n}") for n in range(count)]
            for row in rows:
                day_bucket(row, 1)
            with CaptureQueriesContext(connection) as captured:
                figures = daily_uptimes([row.id for row in rows], now=NOW)
            assert all(days[-2].uptime == 1.0 for days in figures.values())
            return len(captured)

        assert queries_with(1) == queries_with(50) == 1


class TestGroups:
    def test_combine_sums_the_members_time_day_by_day(self) -> None:
        a, b = make_dependency("a"), make_dependency("b")
        day_bucket(a, 1, up=DAY - 864, down=864)  # 99%
        day_bucket(b, 1, up=DAY)
        day_bucket(b, 2, up=DAY, degraded_seconds=0.0)
        figures = daily_uptimes([a.id, b.id], now=NOW)
        group = combine([figures[a.id], figures[b.id]])
        assert len(group) == 90
        assert group[-2].uptime == (2 * DAY - 864) / (2 * DAY)
        assert group[-2].down_seconds == 864
        assert group[-3].uptime == 1.0  # only b was measured
        assert group[-1].today

    def test_the_database_sums_each_group_as_combine_does(self) -> None:
        a = make_dependency("a", group="payments")
        b = make_dependency("b", group="payments")
        c = make_dependency("c", group="")
        make_dependency("d", group="payments", archived_at=T0)  # not in the rows asked
        day_bucket(a, 1, up=DAY - 864, down=864)
        day_bucket(b, 1, up=DAY)
        day_bucket(c, 5, up=DAY / 2, down=DAY / 2)
        for archived in Dependency.objects.exclude(archived_at=None):
            day_bucket(archived, 1, up=0, down=DAY)
        with CaptureQueriesContext(connection) as captured:
            groups = group_daily_uptimes(Dependency.objects.active(), ["new"], now=NOW)
        assert len(captured) == 1
        assert set(groups) == {"payments", "", "new"}
        assert [day.uptime for day in groups["new"]] == [None] * 90
        figures = daily_uptimes([a.id, b.id], now=NOW)
        assert groups["payments"] == combine([figures[a.id], figures[b.id]])
        assert groups[""][-6].uptime == 0.5

    def test_the_days_before_today_are_kept_for_a_while_today_read_every_time(self) -> None:
        row = make_dependency("a", group="payments")
        day_bucket(row, 2, up=DAY - 864, down=864)
        rows = Dependency.objects.active()
        assert group_daily_uptimes(rows, now=NOW)["payments"][-3].uptime == 0.99
        day_bucket(row, 1, up=0.0, down=DAY)  # late: kept days do not see it yet
        day_bucket(row, 0, up=600.0)
        later = NOW + PAST_KEPT - timedelta(seconds=1)
        with CaptureQueriesContext(connection) as captured:
            days = group_daily_uptimes(rows, now=later)["payments"]
        assert len(captured) == 1
        assert "probes_rollup" in captured[0]["sql"]
        assert [day.uptime for day in days[-3:]] == [0.99, None, 1.0]
        # Other rows asked (a filter) are read whole.
        assert group_daily_uptimes(rows.filter(name="a"), now=later)["payments"][-2].uptime == 0
        with CaptureQueriesContext(connection) as captured:
            days = group_daily_uptimes(rows, now=NOW + PAST_KEPT)["payments"]
        assert len(captured) == 1
        assert [day.uptime for day in days[-3:]] == [0.99, 0.0, 1.0]


class TestRender:
    def days(self) -> list[Day]:
        start = date(2026, 11, 20)
        return [
            Day(start),
            Day(start + timedelta(days=1), DAY, 0.0, 0.0),
            Day(start + timedelta(days=2), DAY, 3600.0, 0.0),
            Day(start + timedelta(days=3), DAY / 2, 0.0, 240.0, today=True),
        ]

    def test_a_focusable_cell_per_day_named_by_its_figure(self) -> None:
        html = render(self.days(), "api")
        cells = re.findall(r'<li class="day-(\w+)" tabindex="0" aria-label="([^"]+)"></li>', html)
        assert cells == [
            ("none", "2026-11-20: no data"),
            ("up", "2026-11-21: 100% up"),
            ("degraded", "2026-11-22: 100% up, degraded 1 h"),
            ("down", "2026-11-23 (today so far): 99.44% up, down 4 min"),
        ]

    def test_the_whole_bar_is_summarised_for_screen_readers(self) -> None:
        html = render(self.days(), "api")
        assert 'aria-label="api, last 4 days: 99.88% up, 1 day with downtime"' in html
        assert '<p class="history-scale" aria-hidden="true"><span>4 days ago</span>' in html
        assert "no data" in render([Day(date(2026, 11, 20))], "api")

    def test_cells_can_carry_ids_for_focus_to_outlive_a_swap(self) -> None:
        html = render(self.days(), "api", ids="history-7")
        ids = re.findall(r'<li class="day-\w+" id="(history-7-[\d-]+)" tabindex="0"', html)
        assert ids == [f"history-7-2026-11-{n}" for n in (20, 21, 22, 23)]
        assert " id=" not in render(self.days(), "api")

    def test_the_label_is_escaped(self) -> None:
        html = render(self.days(), '"><script>alert(1)</script>')
        assert "<script>" not in html
        assert 'aria-label="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;, last 4 days' in html
