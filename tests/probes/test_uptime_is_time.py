"""Uptime measured in time (issue: "Uptime is time"): a status holds from one check until
the next, at most one interval past when the next was due; an open breaker is down for its
whole open time; time the prober did not run is unknown, not up. Real scheduling and
recording, in frozen time (tests/probes/simulation.py); no hand-made rollups."""

from __future__ import annotations

from datetime import timedelta

import pytest

from probes import rollups
from probes.models import Dependency, ProbeResult, Rollup
from tests.factories import T0, make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def crm(name: str = "demo-crm") -> Dependency:
    """demo-crm as dependencies.example.yaml declares it."""
    return make_dependency(
        name,
        interval=timedelta(seconds=2),
        timeout=timedelta(seconds=1),
        failure_threshold=3,
        recovery_timeout=timedelta(seconds=10),
        success_threshold=1,
    )


# An hour of checks recorded one by one (half a minute of the PostgreSQL pass): recording
# and rollups run on PostgreSQL in their own tests; this one checks the arithmetic of time.
@pytest.mark.engine_agnostic
def test_down_20_s_of_every_60_s_for_an_hour_reads_two_thirds() -> None:
    row = crm()
    simulation.run(simulation.duty_cycle(40, 20, T0), T0, T0 + HOUR)
    uptime = rollups.uptimes(now=T0 + HOUR)[row.id]["24h"]
    assert 0.66 <= uptime <= 0.67
    # What counting checks said: the open breaker's down time is barely probed.
    results = ProbeResult.objects.filter(dependency=row)
    by_checks = 1 - results.filter(result="failure").count() / results.count()
    assert by_checks > 0.8

    # The hour's bucket holds the whole hour, and its minutes the same down time.
    hour = Rollup.objects.get(dependency=row, period="hour", start=T0)
    total = hour.up_seconds + hour.degraded_seconds + hour.down_seconds
    checked = results.order_by("checked_at").values_list("checked_at", flat=True)
    assert total == pytest.approx((checked.last() - checked.first()).total_seconds())
    assert hour.down_seconds == pytest.approx(60 * 20, abs=2 * 60)  # 20 s in each cycle
    minutes = Rollup.objects.filter(dependency=row, period="minute", start__lt=T0 + HOUR)
    assert sum(m.down_seconds for m in minutes) == pytest.approx(hour.down_seconds)


def test_an_outage_while_the_prober_is_stopped_is_unknown_not_up() -> None:
    row = make_dependency(interval=timedelta(seconds=30))
    stopped = (T0 + timedelta(minutes=20), T0 + timedelta(minutes=40))

    def peer_up(name, at) -> bool:  # down only while the prober is stopped
        return not stopped[0] <= at < stopped[1]

    simulation.run(peer_up, T0, T0 + HOUR, stopped=[stopped])
    tally = rollups.window_tallies({"1h": HOUR}, [row.id], T0 + HOUR)[row.id]["1h"]
    assert tally.down_seconds == 0
    # The status held one interval past the check that was due: the rest is unknown.
    assert tally.known_seconds == pytest.approx(3600 - 20 * 60 + 60, abs=31)
    assert tally.uptime == 1.0
    Dependency.objects.filter(pk=row.pk).update(uptime_coverage={})
    rollups.refresh_uptimes(T0 + HOUR)
    coverage = Dependency.objects.get(pk=row.pk).uptime_coverage["24h"]
    assert coverage == pytest.approx(tally.known_seconds, abs=1)


def test_a_dependency_down_when_the_prober_stops_is_down_only_until_its_status_lapses() -> None:
    row = make_dependency(interval=timedelta(seconds=30), failure_threshold=1)
    stopped = (T0 + timedelta(minutes=30), T0 + HOUR)
    simulation.run(lambda name, at: at < T0 + timedelta(minutes=10), T0, T0 + HOUR, [stopped])
    tally = rollups.window_tallies({"1h": HOUR}, [row.id], T0 + HOUR)[row.id]["1h"]
    # Down from 10 min until the prober stopped at 30, and as long after as the open
    # breaker's trial was due and one interval more: not the 30 minutes it was away.
    results = ProbeResult.objects.filter(dependency=row).order_by("checked_at")
    first, failed = results.first(), results.filter(result="failure")
    last_trial = failed.last().checked_at
    held = last_trial + row.recovery_timeout + row.interval
    assert tally.down_seconds == pytest.approx((held - failed.first().checked_at).total_seconds())
    assert held < stopped[0] + timedelta(minutes=2)
    up = (failed.first().checked_at - first.checked_at).total_seconds()
    assert tally.up_seconds == pytest.approx(up)
    assert tally.known_seconds < 32 * 60


def test_the_time_since_the_last_check_counts_as_its_status() -> None:
    row = make_dependency(interval=timedelta(seconds=60), failure_threshold=1)
    simulation.run(lambda name, at: False, T0, T0 + timedelta(seconds=1))
    # One check, at T0, down; nothing in a bucket yet but its count.
    later = T0 + timedelta(seconds=50)
    tally = rollups.window_tallies({"5m": timedelta(minutes=5)}, [row.id], later)[row.id]["5m"]
    assert (tally.count, tally.down_seconds) == (1, 50.0)
