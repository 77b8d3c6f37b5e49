"""Stores outcomes: history rows, breaker steps and transitions, the current state. In bulk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from notifications.routing import Change, record_changes
from probes import breaker, exposition, maintenance_reader, rollups, status_time
from probes.dependency_spec import DependencySpec
from probes.engine import Job
from probes.incidents import StatusChange, record_incidents
from probes.maintenance import Window
from probes.models import (
    RECENT_CHECKS,
    BreakerTransition,
    Dependency,
    ProbeResult,
    StateVersion,
    StatusTransition,
)
from probes.outcomes import Outcome, Result
from probes.row_updates import update_rows
from probes.scheduler import held_until
from probes.statuses import dependency_status

log = logging.getLogger(__name__)

# What recording writes on a row: every column but the declaration's (sync's), the figures
# refreshed apart (rollups.refresh_uptimes', error_budgets.refresh's) and the bookkeeping.
STATE_FIELDS = [
    field.name
    for field in Dependency._meta.concrete_fields
    if field.name
    not in {
        "id",
        "declared_at",
        "archived_at",
        "slo_figures",
        *DependencySpec.COLUMNS,
        *rollups.STORED_FIELDS,
    }
]


@dataclass(frozen=True)
class Recorded:
    results: int


@dataclass
class _Fact:
    """One outcome of one dependency, and the breaker's moves it made."""

    row: Dependency
    outcome: Outcome
    state: breaker.Breaker
    transitions: list[breaker.Transition]


def record(outcomes: Sequence[tuple[Job, Outcome]]) -> Recorded:
    """Store the facts (each result, each breaker transition), then update what is projected
    from them: the current state, the recent checks, the totals, the metrics text, the
    rollups and the state token. One transaction, the same few queries for any number of
    outcomes (SQLite cuts bulk writes of more than a few dozen rows at its 999 parameters)."""
    by_id = {job.dependency_id: outcome for job, outcome in outcomes}
    with transaction.atomic():
        # Locked in id order, as sync locks them, so the two never deadlock.
        rows = Dependency.objects.select_for_update().filter(id__in=by_id).order_by("id")
        facts = [_fact(row, by_id[row.id]) for row in rows]
        _store(facts)
        _project(facts)
    for fact in facts:
        for t in fact.transitions:
            log.warning(
                "%s: breaker %s -> %s (%s)", fact.row.name, t.from_state, t.to_state, t.reason
            )
    return Recorded(len(facts))


def _fact(row: Dependency, outcome: Outcome) -> _Fact:
    """The breaker stepped with the outcome: time passing (elapse), then the probe (step)."""
    now = outcome.checked_at
    state, opened = breaker.elapse(row.breaker, now, row.policy)
    state, stepped = breaker.step(state, outcome, now, row.policy)
    return _Fact(row, outcome, state, [t for t in (opened, stepped) if t is not None])


def _store(facts: list[_Fact]) -> None:
    ProbeResult.objects.bulk_create(_result(fact.row, fact.outcome) for fact in facts)
    BreakerTransition.objects.bulk_create(
        BreakerTransition(
            dependency=fact.row,
            at=t.at,
            from_state=t.from_state,
            to_state=t.to_state,
            reason=t.reason[:500],
        )
        for fact in facts
        for t in fact.transitions
    )


def _project(facts: list[_Fact]) -> None:
    windows = maintenance_reader.now_in_effect()
    spans = _time_since_last_checks(facts, windows.windows)
    changes = []
    for fact in facts:
        row, outcome = fact.row, fact.outcome
        previous, previous_error = row.status, row.last_error
        _current_state(row, outcome, fact.state)
        if row.status != previous:
            changes.append(StatusChange(row, previous, previous_error))
        row.recent = recent_checks(row.recent, outcome)
        row.totals = count_totals(row.totals, outcome, fact.transitions)
        row.metrics_text = exposition.render(row)
    update_rows(Dependency, (fact.row for fact in facts), STATE_FIELDS)
    # A check made in a maintenance window is kept (history, recent checks, totals) but not
    # counted into the rollups, and its time is the window's: uptime and SLO figures leave
    # the window out.
    rollups.add([(fact.row.id, fact.outcome) for fact in facts if not windows.of(fact.row)], spans)
    record_incidents(changes)
    StatusTransition.objects.bulk_create(
        StatusTransition(
            dependency=change.row,
            at=change.row.status_since,
            from_status=change.previous,
            to_status=change.row.status,
        )
        for change in changes
    )
    _notify([Change(change.row, change.previous) for change in changes])
    StateVersion.bump()


def _time_since_last_checks(
    facts: list[_Fact], windows: list[Window]
) -> list[tuple[int, status_time.Span]]:
    """The time each row spent in its status until this check (before it is updated)."""
    checked = [fact for fact in facts if fact.row.last_checked_at is not None]
    if not checked:
        return []
    since = min(fact.row.last_checked_at for fact in checked)
    until = max(fact.outcome.checked_at for fact in checked)
    maintenance = status_time.MaintenanceSpans(windows, since, until)
    return [
        (fact.row.id, span)
        for fact in checked
        for span in status_time.since_last_check(fact.row, fact.outcome.checked_at, maintenance)
    ]


def _notify(changes: list[Change]) -> None:
    """The outbox: whom to tell, written with the change it tells of. A bug in routing must
    not cost the probe results too (nor stop recording): its savepoint is rolled back alone,
    and the ERROR says which changes went untold."""
    if not changes:
        return
    try:
        with transaction.atomic():
            record_changes(changes, timezone.now())
    except Exception:  # the results are kept, whatever routing does
        told = ", ".join(f"{c.row.name} {c.previous} -> {c.row.status}" for c in changes[:10])
        log.exception("notifications of %d status changes were not written: %s", len(changes), told)


def _current_state(row: Dependency, outcome: Outcome, state: breaker.Breaker) -> None:
    """The row's breaker, status, last check and schedule, after `outcome`."""
    now = outcome.checked_at
    row.breaker = state
    status = dependency_status(state.state, outcome.result)
    if status != row.status:
        row.status, row.status_since = status, now
        # An acknowledgement is of one outage: the next one is nobody's until said again.
        row.acknowledged_by, row.acknowledged_at = "", None
    row.last_checked_at = now
    row.last_result = outcome.result
    row.last_latency_ms = outcome.latency_ms
    row.last_error_class = outcome.error_class or ""
    row.last_error = outcome.error[:500]
    row.last_warnings = list(outcome.warnings)
    row.last_observations = dict(outcome.observations)
    # An open breaker is not probed until its trial is due, nor a peer that said when to
    # come back before then.
    held = held_until(row)
    if held is not None:
        row.next_due_at = max(row.next_due_at, held)


def recent_checks(recent: list[list[Any]], outcome: Outcome) -> list[list[Any]]:
    """The row's last RECENT_CHECKS checks, newest last: [epoch seconds, result, latency]."""
    latency = round(outcome.latency_ms, 1) if outcome.latency_ms is not None else None
    check = [int(outcome.checked_at.timestamp()), outcome.result.value[0], latency]
    return [*recent, check][-RECENT_CHECKS:]


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


def _result(row: Dependency, outcome: Outcome) -> ProbeResult:
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
