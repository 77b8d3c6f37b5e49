"""Stores outcomes: history rows, breaker steps and transitions, the current state. In bulk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from probes import breaker, exposition, rollups
from probes.engine import Job
from probes.models import BreakerTransition, Dependency, ProbeResult, StateVersion
from probes.outcomes import Outcome, Result
from probes.statuses import dependency_status

log = logging.getLogger(__name__)

STATE_FIELDS = [
    "status",
    "status_since",
    "breaker_state",
    "breaker_failures",
    "breaker_successes",
    "breaker_opened_at",
    "last_checked_at",
    "last_result",
    "last_latency_ms",
    "last_error_class",
    "last_error",
    "last_warnings",
    "last_observations",
    "recent",
    "totals",
    "metrics_text",
    "next_due_at",
]
# How many checks the row keeps for the status page's sparkline and uptime bar.
RECENT_CHECKS = 40


@dataclass(frozen=True)
class Recorded:
    results: int


def record(outcomes: Sequence[tuple[Job, Outcome]]) -> Recorded:
    """One transaction and eight queries, however many outcomes (SQLite cuts bulk writes of
    more than a few dozen rows into several statements, at its 999-parameter limit)."""
    by_id = {job.dependency_id: outcome for job, outcome in outcomes}
    results: list[ProbeResult] = []
    transitions: list[tuple[Dependency, breaker.Transition]] = []
    with transaction.atomic():
        # Locked in id order, as sync locks them, so the two never deadlock.
        rows = list(Dependency.objects.select_for_update().filter(id__in=by_id).order_by("id"))
        for row in rows:
            outcome = by_id[row.id]
            results.append(_history_row(row, outcome))
            transitions += [(row, t) for t in _apply(row, outcome) if t is not None]
            row.metrics_text = exposition.render(row)
        ProbeResult.objects.bulk_create(results)
        BreakerTransition.objects.bulk_create(
            BreakerTransition(
                dependency=row,
                at=t.at,
                from_state=t.from_state,
                to_state=t.to_state,
                reason=t.reason[:500],
            )
            for row, t in transitions
        )
        Dependency.objects.bulk_update(rows, STATE_FIELDS)
        rollups.add([(row.id, by_id[row.id]) for row in rows])
        StateVersion.bump()
    for row, t in transitions:
        log.warning("%s: breaker %s -> %s (%s)", row.name, t.from_state, t.to_state, t.reason)
    return Recorded(len(results))


def _apply(row: Dependency, outcome: Outcome) -> tuple[breaker.Transition | None, ...]:
    """Step the row's breaker and current state with one outcome; the transitions it made."""
    now = outcome.checked_at
    policy = row.policy
    state, opened = breaker.elapse(row.breaker, now, policy)
    state, stepped = breaker.step(state, outcome, now, policy)
    row.breaker = state
    status = dependency_status(state.state, outcome.result)
    if status != row.status:
        row.status, row.status_since = status, now
    row.last_checked_at = now
    row.last_result = outcome.result
    row.last_latency_ms = outcome.latency_ms
    row.last_error_class = outcome.error_class or ""
    row.last_error = outcome.error[:500]
    row.last_warnings = list(outcome.warnings)
    row.last_observations = dict(outcome.observations)
    latency = round(outcome.latency_ms, 1) if outcome.latency_ms is not None else None
    check = [int(now.timestamp()), outcome.result.value[0], latency]
    row.recent = [*row.recent, check][-RECENT_CHECKS:]
    row.totals = count_totals(row.totals, outcome, [t for t in (opened, stepped) if t])
    trial_at = breaker.next_trial_at(state, policy)
    if trial_at is not None:
        # An open breaker is not probed until its trial is due.
        row.next_due_at = max(row.next_due_at, trial_at)
    return opened, stepped


def count_totals(
    totals: dict[str, Any], outcome: Outcome, transitions: list[breaker.Transition]
) -> dict[str, Any]:
    """The row's ever-growing counts, with one more outcome and its transitions."""
    counted = {key: dict(value) for key, value in totals.items()}
    results = counted.setdefault("results", {})
    results[outcome.result.value] = results.get(outcome.result.value, 0) + 1
    if outcome.error_class:
        errors = counted.setdefault("errors", {})
        errors[outcome.error_class.value] = errors.get(outcome.error_class.value, 0) + 1
    for t in transitions:
        moves = counted.setdefault("transitions", {})
        key = f"{t.from_state.value}>{t.to_state.value}"
        moves[key] = moves.get(key, 0) + 1
    if outcome.latency_ms is not None:
        latency = counted.setdefault("latency", {})
        buckets = list(latency.get("buckets") or [0] * (len(rollups.LATENCY_BOUNDS_MS) + 1))
        buckets[rollups.latency_bucket(outcome.latency_ms)] += 1
        latency["buckets"] = buckets
        latency["sum_ms"] = latency.get("sum_ms", 0.0) + outcome.latency_ms
    return counted


def _history_row(row: Dependency, outcome: Outcome) -> ProbeResult:
    detail = outcome.detail if outcome.result is Result.FAILURE else "; ".join(outcome.warnings)
    return ProbeResult(
        dependency=row,
        checked_at=outcome.checked_at,
        result=outcome.result,
        latency_ms=outcome.latency_ms,
        error_class=outcome.error_class or "",
        detail=detail[:500],
        observations=dict(outcome.observations),
    )
