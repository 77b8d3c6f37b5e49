"""Incidents as recording writes them: opened when a dependency goes down, closed when it
leaves down, one open at a time, with the errors that began and ended them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError

from probes import incidents, retention
from probes.models import Dependency, Incident
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def check(row: Dependency, seconds: float, error: str | None = None) -> Dependency:
    outcome = (
        Outcome(error_class=ErrorClass.CONNECT, detail=error, checked_at=at(seconds))
        if error
        else Outcome(latency_ms=3.0, checked_at=at(seconds))
    )
    record([(job_for(row), outcome)])
    return Dependency.objects.get(pk=row.pk)


def flaky(name: str = "api") -> Dependency:
    # Down at the second failure; a trial a second after it opened.
    return make_dependency(name, failure_threshold=2, recovery_timeout=timedelta(seconds=1))


def test_an_incident_opens_at_the_check_that_takes_a_dependency_down_and_closes_when_back():
    row = check(flaky(), 0)
    row = check(row, 10, "refused 1")  # degraded: no incident yet
    assert Incident.objects.count() == 0
    row = check(row, 20, "refused 2")  # down
    row = check(row, 30, "timed out")
    incident = Incident.objects.get()
    assert (incident.started_at, incident.ended_at, incident.first_error) == (
        at(20),
        None,
        "connect: refused 2",
    )
    row = check(row, 40)  # the trial succeeds: up
    incident.refresh_from_db()
    assert (incident.ended_at, incident.last_error) == (at(40), "connect: timed out")
    assert incident.open is False


def test_each_period_down_is_its_own_incident():
    row = flaky()
    for start in (0, 100):
        row = check(row, start, "refused")
        row = check(row, start + 1, "refused")
        row = check(row, start + 10)
    assert [(i.started_at, i.ended_at) for i in Incident.objects.order_by("started_at")] == [
        (at(1), at(10)),
        (at(101), at(110)),
    ]


def test_a_dependency_has_one_open_incident_at_most():
    row = make_dependency()
    Incident.objects.create(dependency=row, started_at=T0)
    with pytest.raises(IntegrityError):
        Incident.objects.create(dependency=row, started_at=at(1))


def test_what_happened_inside_an_incident_is_its_breaker_moves():
    row = flaky()
    row = check(row, 0, "refused")
    row = check(row, 1, "refused")
    row = check(row, 5)
    check(row, 50, "refused")  # after it: not its own
    incident = Incident.objects.get()
    moves = [(t.from_state, t.to_state) for t in incidents.transitions(incident)]
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_incidents_are_kept_as_long_as_rollups_and_an_open_one_always(settings):
    row = make_dependency()
    kept = settings.SEAHEALTH_ROLLUP_RETENTION
    old = Incident.objects.create(
        dependency=row,
        started_at=T0 - kept - timedelta(days=2),
        ended_at=T0 - kept - timedelta(days=1),
    )
    young = Incident.objects.create(
        dependency=make_dependency("other"), started_at=T0 - kept - timedelta(days=2)
    )
    retention.prune(now=T0)
    assert list(Incident.objects.values_list("id", flat=True)) == [young.id]
    assert not Incident.objects.filter(id=old.id).exists()
