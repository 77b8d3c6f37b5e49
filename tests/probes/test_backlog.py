from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from probes.backlog import Backlog, BacklogWarnings, grace, measure
from probes.scheduler import claim_due
from tests.factories import T0, make_dependency

SECOND = timedelta(seconds=1)


def due(seconds_ago: float) -> dict:
    return {"next_due_at": T0 - timedelta(seconds=seconds_ago)}


@pytest.fixture(autouse=True)
def _tick(settings) -> None:
    settings.SEAHEALTH_TICK_SECONDS = 1.0  # grace(): 2 s


@pytest.mark.django_db
class TestMeasure:
    def test_counts_the_rows_due_past_the_grace_and_the_oldest_lag(self) -> None:
        make_dependency("late", **due(45))
        make_dependency("later", **due(120.5))
        make_dependency("just-due", **due(1.5))  # within the grace: the next tick claims it
        make_dependency("not-yet", next_due_at=T0 + SECOND)
        assert grace() == 2 * SECOND
        assert measure(T0) == Backlog(count=2, lag_seconds=120.5)

    def test_archived_rows_are_not_behind(self) -> None:
        make_dependency("gone", archived_at=T0, **due(600))
        assert measure(T0) == Backlog(0, 0.0)

    def test_an_open_breaker_waits_for_its_trial_and_is_not_behind(self) -> None:
        # recording.py makes an open breaker's row due at its trial: not before.
        make_dependency(
            "refusing",
            breaker_state="open",
            breaker_opened_at=T0 - 30 * SECOND,
            next_due_at=T0 + 30 * SECOND,
        )
        assert measure(T0) == Backlog(0, 0.0)
        # A trial itself left waiting is behind like any probe.
        assert measure(T0 + 45 * SECOND) == Backlog(1, 15.0)

    def test_nothing_due_is_zero_and_zero(self) -> None:
        make_dependency("fine", next_due_at=T0 + 10 * SECOND)
        assert measure(T0) == Backlog(0, 0.0)

    def test_a_claim_takes_a_row_out_of_the_backlog(self) -> None:
        for n in range(5):
            make_dependency(f"dep-{n}", **due(10 + n))
        claim_due(limit=3, now=T0)
        # The claim took the three most overdue: the two left have waited 11 s at most.
        assert measure(T0) == Backlog(2, 11.0)

    def test_the_grace_follows_the_tick(self, settings) -> None:
        make_dependency("api", **due(4))
        assert measure(T0).count == 1
        settings.SEAHEALTH_TICK_SECONDS = 5.0
        assert measure(T0).count == 0

    def test_one_query_on_the_schedulers_index(self) -> None:
        for n in range(20):
            make_dependency(f"dep-{n}", **due(n))
        with CaptureQueriesContext(connection) as captured:
            measure(T0)
        [query] = captured.captured_queries
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Whether the planner can use the partial index at all, whatever the row count.
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(f"EXPLAIN {query['sql']}")
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
            plan = " ".join(str(line) for line in cursor.fetchall())
        assert "probes_dep_due_idx" in plan


@pytest.mark.parametrize(
    ("backlog", "text"),
    [
        (Backlog(1, 2.4), "1 dependency overdue, the oldest by 2 s"),
        (Backlog(12, 185.0), "12 dependencies overdue, the oldest by 3 min"),
    ],
)
def test_the_summary_reads_as_a_sentence(backlog: Backlog, text: str) -> None:
    assert backlog.summary == text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


BEHIND = Backlog(3, 45.0)
CLEAR = Backlog(0, 0.0)


class TestBacklogWarnings:
    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def warnings(self, clock: Clock) -> BacklogWarnings:
        return BacklogWarnings(every=60.0, clock=clock)

    def said(self, caplog, warnings: BacklogWarnings, clock: Clock, ticks) -> list[str]:
        """What the log says over `ticks`: (seconds since the last tick, backlog) each."""
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="probes.backlog"):
            for seconds, found in ticks:
                clock.now += seconds
                warnings.report(found)
        assert all(record.levelno == logging.WARNING for record in caplog.records)
        return [record.getMessage() for record in caplog.records]

    def test_warns_at_once_then_once_a_minute_while_it_lasts_never_per_tick(
        self, caplog, warnings, clock
    ) -> None:
        said = self.said(caplog, warnings, clock, [(1, BEHIND)] * 150)
        assert said == [
            "the prober is behind: 3 dependencies overdue, the oldest by 45 s; more is due "
            "than it probes, so dependencies are probed less often than declared",
            "the prober is still behind (for 1 min): 3 dependencies overdue, the oldest by "
            "45 s; more is due than it probes, so dependencies are probed less often than "
            "declared",
            "the prober is still behind (for 2 min): 3 dependencies overdue, the oldest by "
            "45 s; more is due than it probes, so dependencies are probed less often than "
            "declared",
        ]

    def test_says_once_when_it_has_caught_up(self, caplog, warnings, clock) -> None:
        said = self.said(caplog, warnings, clock, [(1, BEHIND)] * 90 + [(1, CLEAR)] * 90)
        assert len(said) == 3
        assert said[-1] == "the prober has caught up: nothing overdue (behind for 1 min)"

    def test_nothing_is_said_while_nothing_is_overdue(self, caplog, warnings, clock) -> None:
        assert self.said(caplog, warnings, clock, [(1, CLEAR)] * 100) == []

    def test_a_backlog_that_comes_and_goes_every_tick_says_a_line_or_two_a_minute(
        self, caplog, warnings, clock
    ) -> None:
        said = self.said(caplog, warnings, clock, [(1, BEHIND), (1, CLEAR)] * 150)
        # 5 minutes: a warning and its end per minute at most.
        assert 5 <= len(said) <= 10
        assert [line.split(":")[0] for line in said[:2]] == [
            "the prober is behind",
            "the prober has caught up",
        ]

    @pytest.mark.django_db
    def test_check_measures_and_reports(self, caplog, warnings) -> None:
        make_dependency("late", **due(30))
        with caplog.at_level(logging.WARNING, logger="probes.backlog"):
            assert warnings.check(T0) == Backlog(1, 30.0)
        [record] = caplog.records
        assert "1 dependency overdue, the oldest by 30 s" in record.getMessage()
