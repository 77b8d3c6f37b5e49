"""The circuit breaker of one dependency: a pure state machine, no I/O and no Django.

closed --failure_threshold consecutive failures--> open
open --recovery_timeout elapsed--> half_open (the next probe is the trial)
half_open --success_threshold consecutive successes--> closed
half_open --a failure--> open

While the breaker is open the dependency is not probed; the scheduler asks `next_trial_at`
when the trial is due. Recording applies `elapse` (time passing) and then `step` (the probe's
outcome), so a trial yields two transitions: open -> half_open, then half_open -> closed/open.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from probes.durations import format_duration
from probes.outcomes import Outcome, Result


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Policy:
    failure_threshold: int = 3
    recovery_timeout: float = field(default=60.0, metadata={"duration": True})  # seconds
    success_threshold: int = 1


@dataclass(frozen=True)
class Breaker:
    state: State = State.CLOSED
    failures: int = 0  # consecutive failures, in any state
    successes: int = 0  # consecutive successes while half-open
    opened_at: datetime | None = None


@dataclass(frozen=True)
class Transition:
    from_state: State
    to_state: State
    at: datetime
    reason: str


def next_trial_at(breaker: Breaker, policy: Policy) -> datetime | None:
    """When an open breaker lets the next probe through; None unless it is open."""
    if breaker.state is not State.OPEN or breaker.opened_at is None:
        return None
    return breaker.opened_at + timedelta(seconds=policy.recovery_timeout)


def elapse(breaker: Breaker, now: datetime, policy: Policy) -> tuple[Breaker, Transition | None]:
    """Let time pass: an open breaker whose recovery timeout is over becomes half-open."""
    trial_at = next_trial_at(breaker, policy)
    if trial_at is None or now < trial_at:
        return breaker, None
    reason = f"recovery timeout {format_duration(policy.recovery_timeout)} elapsed: trial probe"
    return (
        replace(breaker, state=State.HALF_OPEN, successes=0),
        Transition(State.OPEN, State.HALF_OPEN, now, reason),
    )


def step(
    breaker: Breaker, outcome: Outcome, now: datetime, policy: Policy
) -> tuple[Breaker, Transition | None]:
    """Apply one probe outcome (call `elapse` first so that a due trial is half-open). An
    answer that only degrades (rate limited, say) is an answer: it counts as a success."""
    if outcome.result is not Result.FAILURE:
        return _on_success(breaker, now, policy)
    return _on_failure(breaker, outcome, now, policy)


def _on_success(
    breaker: Breaker, now: datetime, policy: Policy
) -> tuple[Breaker, Transition | None]:
    if breaker.state is State.HALF_OPEN:
        successes = breaker.successes + 1
        if successes >= policy.success_threshold:
            reason = f"{_count(successes, 'consecutive success', 'es')} while half-open"
            return Breaker(), Transition(State.HALF_OPEN, State.CLOSED, now, reason)
        return replace(breaker, failures=0, successes=successes), None
    # An open breaker waits for its trial; a stray success before then changes nothing.
    return replace(breaker, failures=0), None


def _on_failure(
    breaker: Breaker, outcome: Outcome, now: datetime, policy: Policy
) -> tuple[Breaker, Transition | None]:
    failures = breaker.failures + 1
    if breaker.state is State.HALF_OPEN:
        opened = Breaker(State.OPEN, failures=failures, opened_at=now)
        return opened, Transition(
            State.HALF_OPEN, State.OPEN, now, f"trial failed: {outcome.error}"
        )
    if breaker.state is State.CLOSED and failures >= policy.failure_threshold:
        reason = f"{_count(failures, 'consecutive failure')}, last: {outcome.error}"
        opened = Breaker(State.OPEN, failures=failures, opened_at=now)
        return opened, Transition(State.CLOSED, State.OPEN, now, reason)
    return replace(breaker, failures=failures), None


def _count(n: int, noun: str, plural: str = "s") -> str:
    return f"{n} {noun}{'' if n == 1 else plural}"
