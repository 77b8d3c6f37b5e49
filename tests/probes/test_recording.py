from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from probes import maintenance_reader
from probes.engine import Job
from probes.models import BreakerTransition, Dependency, ProbeResult, StatusTransition
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def ok(seconds: float, latency: float = 12.5, **kwargs) -> Outcome:
    return Outcome(latency_ms=latency, checked_at=at(seconds), **kwargs)


def refused(seconds: float) -> Outcome:
    return Outcome(
        error_class=ErrorClass.CONNECT, detail="connection refused", checked_at=at(seconds)
    )


def record_one(row: Dependency, outcome: Outcome) -> Dependency:
    record([(job_for(row), outcome)])
    return Dependency.objects.get(pk=row.pk)


def test_each_status_change_is_stored_with_the_check_that_made_it() -> None:
    row = make_dependency(failure_threshold=1)
    for outcome in (ok(1), ok(2), refused(3), refused(4), ok(70)):  # 70: the trial, after 60 s
        row = record_one(row, outcome)

    changes = StatusTransition.objects.filter(dependency=row)
    assert list(changes.values_list("at", "from_status", "to_status")) == [
        (at(1), "unknown", "up"),
        (at(3), "up", "down"),
        (at(70), "down", "up"),
    ]


def test_a_success_is_stored_as_history_and_as_current_state() -> None:
    row = record_one(make_dependency(), ok(1, observations={"status_code": 200}))
    result = ProbeResult.objects.get()
    assert (result.checked_at, result.result, result.latency_ms) == (at(1), "success", 12.5)
    assert (result.error_class, result.detail, result.observations) == (
        "",
        "",
        {"status_code": 200},
    )
    assert (row.status, row.status_since, row.breaker_state) == ("up", at(1), "closed")
    assert (row.last_checked_at, row.last_result, row.last_latency_ms) == (at(1), "success", 12.5)
    assert (row.last_error, row.last_observations) == ("", {"status_code": 200})


def test_a_failure_below_the_threshold_is_degraded_with_its_error() -> None:
    row = record_one(make_dependency(), refused(1))
    assert (row.status, row.breaker_state, row.breaker_failures) == ("degraded", "closed", 1)
    assert (row.last_error_class, row.last_error) == ("connect", "connect: connection refused")
    assert row.last_latency_ms is None
    result = ProbeResult.objects.get()
    assert (result.result, result.error_class, result.detail) == (
        "failure",
        "connect",
        "connection refused",
    )


def test_warnings_make_it_degraded_and_are_kept_as_the_detail() -> None:
    row = record_one(
        make_dependency(), ok(1, warnings=("slow: 2.1s", "certificate expires in 3 days"))
    )
    assert row.status == "degraded"
    assert row.last_warnings == ["slow: 2.1s", "certificate expires in 3 days"]
    assert ProbeResult.objects.get().detail == "slow: 2.1s; certificate expires in 3 days"


def test_the_threshold_opens_the_breaker_stores_the_transition_and_waits_for_the_trial() -> None:
    row = make_dependency(failure_threshold=2, recovery_timeout=timedelta(seconds=90))
    row = record_one(row, refused(1))
    row = record_one(row, refused(2))
    assert (row.status, row.status_since, row.breaker_state) == ("down", at(2), "open")
    assert row.breaker_opened_at == at(2)
    [transition] = BreakerTransition.objects.all()
    assert (transition.from_state, transition.to_state, transition.at) == ("closed", "open", at(2))
    assert transition.reason == "2 consecutive failures, last: connect: connection refused"
    # No probe until the trial is due, whatever the interval says.
    assert row.next_due_at == at(92)


def test_a_successful_trial_records_half_open_then_closed_in_order() -> None:
    row = make_dependency(failure_threshold=1, recovery_timeout=timedelta(seconds=10))
    row = record_one(row, refused(0))
    row = record_one(row, ok(11))
    assert (row.status, row.status_since, row.breaker_state) == ("up", at(11), "closed")
    assert list(BreakerTransition.objects.values_list("from_state", "to_state", "at")) == [
        ("closed", "open", at(0)),
        ("open", "half_open", at(11)),
        ("half_open", "closed", at(11)),
    ]


def test_status_since_holds_while_the_status_holds() -> None:
    row = make_dependency()
    for second in (1, 2, 3):
        row = record_one(row, ok(second))
    assert (row.status, row.status_since, row.last_checked_at) == ("up", at(1), at(3))
    assert ProbeResult.objects.count() == 3


def test_the_query_count_does_not_grow_with_the_batch() -> None:
    def queries_for(count: int, offset: int) -> int:
        rows = [make_dependency(f"dep-{offset + n}") for n in range(count)]
        outcomes: list[tuple[Job, Outcome]] = [(job_for(r), refused(1)) for r in rows]
        maintenance_reader.forget()  # each reads the windows in effect: the same two queries
        with CaptureQueriesContext(connection) as captured:
            record(outcomes)
        return len(captured)

    # 20: within one statement of SQLite's bulk writes (its parameter limit cuts larger ones:
    # 60 rollups of 16 columns).
    assert queries_for(1, 0) == queries_for(20, 100)
    assert ProbeResult.objects.count() == 21


def test_an_outcome_for_an_archived_dependency_is_still_kept() -> None:
    # Archived while its probe was in flight: the result is history like any other.
    row = make_dependency(archived_at=T0)
    record_one(row, ok(1))
    assert ProbeResult.objects.filter(dependency=row).count() == 1
