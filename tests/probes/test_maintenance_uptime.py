"""Checks made in a maintenance window are kept as history but left out of uptime."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from probes import maintenance_reader, rollups
from probes.models import Dependency, MaintenanceWindow, ProbeResult, Rollup, WindowSource
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import make_dependency
from tests.probes.test_recording import at, ok, refused

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def window() -> None:
    # From T0 + 60 s until T0 + 120 s, for `db`.
    MaintenanceWindow.objects.create(
        name="db-upgrade",
        source=WindowSource.API,
        match={"name": ["db"]},
        start=at(60),
        end=at(120),
    )


def probe(row: Dependency, outcome) -> None:
    with freeze_time(outcome.checked_at):
        record([(job_for(row), outcome)])


@pytest.mark.parametrize(
    ("name", "counted", "seconds"),
    [
        # db: the failures at 60 s and 90 s fell in its window; the success at 30 s and the
        # failure at 120 s (the window's end excluded) did not. The time from 60 s to 120 s
        # is the window's, down or not.
        ("db", (2, 1), {"up": 30, "down": 0, "maintenance": 60}),
        # other: the window does not match it, every check and second counts.
        ("other", (4, 3), {"up": 30, "down": 60, "maintenance": 0}),
    ],
)
def test_checks_in_a_window_are_kept_but_not_counted(name: str, counted, seconds) -> None:
    row = make_dependency(name, failure_threshold=1)
    for outcome in (ok(30), refused(60), refused(90), refused(120)):
        probe(row, outcome)
    assert ProbeResult.objects.filter(dependency=row).count() == 4
    assert Dependency.objects.get(pk=row.pk).totals["results"] == {"success": 1, "failure": 3}
    day = Rollup.objects.get(dependency=row, period="day")
    assert (day.count, day.failures) == counted
    assert {c: getattr(day, f"{c}_seconds") for c in seconds} == seconds
    with freeze_time(at(150)):
        rollups.refresh_uptimes(at(150))
    # And down since the check at 120 s, for both: the window has ended.
    down = seconds["down"] + 30
    assert Dependency.objects.get(pk=row.pk).uptime_24h == pytest.approx(30 / (30 + down))


def test_a_window_written_meanwhile_counts_once_the_reader_rechecks() -> None:
    """The reader's copy is kept RECHECK seconds, then read again if the token moved (every
    recording moves it): a window made meanwhile counts from then on."""
    row = make_dependency("late")
    probe(row, refused(70))
    MaintenanceWindow.objects.create(
        name="late-window",
        source=WindowSource.API,
        match={"name": ["late"]},
        start=at(0),
        end=at(600),
    )
    probe(row, refused(70 + maintenance_reader.RECHECK.total_seconds() + 1))
    assert Rollup.objects.get(dependency=row, period="day").count == 1
