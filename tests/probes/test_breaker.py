from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from probes.breaker import Breaker, Policy, State, Transition, elapse, next_trial_at, step
from probes.outcomes import ErrorClass, Outcome

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
POLICY = Policy(failure_threshold=3, recovery_timeout=60.0, success_threshold=2)
OK = Outcome()
DEGRADED = Outcome(warnings=("slow",))
FAIL = Outcome(error_class=ErrorClass.CONNECT, detail="connection refused")

closed = Breaker()
open_at_t0 = Breaker(State.OPEN, failures=3, opened_at=T0)
half_open = Breaker(State.HALF_OPEN, failures=3, opened_at=T0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("before", "outcome", "seconds", "after", "transition"),
    [
        # closed: failures count up, a success resets them, the threshold opens it
        (closed, OK, 1, closed, None),
        (closed, DEGRADED, 1, closed, None),
        (closed, FAIL, 1, Breaker(failures=1), None),
        (Breaker(failures=1), OK, 1, closed, None),
        (Breaker(failures=1), FAIL, 1, Breaker(failures=2), None),
        (
            Breaker(failures=2),
            FAIL,
            1,
            Breaker(State.OPEN, failures=3, opened_at=at(1)),
            (State.CLOSED, State.OPEN, "3 consecutive failures, last: connect: connection refused"),
        ),
        # open: outcomes before the trial change nothing but the count
        (open_at_t0, FAIL, 30, Breaker(State.OPEN, failures=4, opened_at=T0), None),
        (open_at_t0, OK, 30, Breaker(State.OPEN, failures=0, opened_at=T0), None),
        # half-open: successes count up to the threshold, a failure reopens it
        (half_open, OK, 61, Breaker(State.HALF_OPEN, successes=1, opened_at=T0), None),
        (
            Breaker(State.HALF_OPEN, successes=1, opened_at=T0),
            DEGRADED,
            62,
            closed,
            (State.HALF_OPEN, State.CLOSED, "2 consecutive successes while half-open"),
        ),
        (
            Breaker(State.HALF_OPEN, successes=1, opened_at=T0),
            FAIL,
            62,
            Breaker(State.OPEN, failures=1, opened_at=at(62)),
            (State.HALF_OPEN, State.OPEN, "trial failed: connect: connection refused"),
        ),
    ],
)
def test_step(before, outcome, seconds, after, transition) -> None:
    state, made = step(before, outcome, at(seconds), POLICY)
    assert state == after
    if transition is None:
        assert made is None
    else:
        assert made == Transition(transition[0], transition[1], at(seconds), transition[2])


@pytest.mark.parametrize(
    ("before", "seconds", "after_state", "transitions"),
    [
        (closed, 3600, State.CLOSED, False),
        (open_at_t0, 59.9, State.OPEN, False),
        (open_at_t0, 60, State.HALF_OPEN, True),
        (open_at_t0, 600, State.HALF_OPEN, True),
        (half_open, 600, State.HALF_OPEN, False),
    ],
)
def test_elapse_makes_an_open_breaker_half_open_after_the_recovery_timeout(
    before, seconds, after_state, transitions
) -> None:
    state, made = elapse(before, at(seconds), POLICY)
    assert state.state is after_state
    if transitions:
        assert made == Transition(
            State.OPEN, State.HALF_OPEN, at(seconds), "recovery timeout 1m elapsed: trial probe"
        )
    else:
        assert made is None


def test_opens_after_three_failures_and_closes_after_a_successful_trial() -> None:
    policy = Policy(failure_threshold=3, recovery_timeout=10.0, success_threshold=1)
    breaker, seen = Breaker(), []
    timeline = [(0, FAIL), (1, FAIL), (2, FAIL), (5, FAIL), (12, FAIL), (25, OK), (26, OK)]
    for seconds, outcome in timeline:
        breaker, opened = elapse(breaker, at(seconds), policy)
        breaker, stepped = step(breaker, outcome, at(seconds), policy)
        seen += [(t.from_state, t.to_state, t.at) for t in (opened, stepped) if t]
    assert seen == [
        (State.CLOSED, State.OPEN, at(2)),
        (State.OPEN, State.HALF_OPEN, at(12)),
        (State.HALF_OPEN, State.OPEN, at(12)),
        (State.OPEN, State.HALF_OPEN, at(25)),
        (State.HALF_OPEN, State.CLOSED, at(25)),
    ]
    assert breaker == Breaker()


def test_next_trial_is_the_recovery_timeout_after_opening() -> None:
    assert next_trial_at(open_at_t0, POLICY) == at(60)
    assert next_trial_at(closed, POLICY) is None
    assert next_trial_at(half_open, POLICY) is None
