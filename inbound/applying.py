"""The prober's side of what reports in, every tick (runprobes' and Celery's dispatch_due):

1. apply the signals stored since the last tick (pings, events) to each dependency's
   InboundState, in the order they came, and make those dependencies due at once;
2. judge the heartbeats and webhooks that are due, from their state (their kind's
   judge()), and record the outcomes as any probe's: breaker, history, notifications,
   uptime and SLOs follow.

A heartbeat that stops pinging has nothing stored: step 2, every interval, is what notices.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import datetime

from django.db import DatabaseError, transaction
from django.utils import timezone

from inbound.models import InboundState, Signal
from probes import kinds
from probes.dependency_spec import target_of
from probes.kinds import PASSIVE_KINDS, webhook
from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.row_updates import update_rows
from probes.scheduler import HOLD_FIELDS, JOB_FIELDS, held_until, job_for

log = logging.getLogger(__name__)

# Signals applied, and dependencies judged, in one transaction at most.
BATCH = 1000
_STATE_FIELDS = [
    field.name
    for field in InboundState._meta.concrete_fields
    if field.name not in {"id", "dependency", "token_hash"}
]


def tick(now: datetime | None = None) -> int:
    """Apply what came, judge what is due; how many were judged. The database
    away is the caller's to handle; a bug here is logged, and the probes go on."""
    now = now or timezone.now()
    try:
        apply_signals(now)
        return judge_due(now)
    except DatabaseError:
        raise
    except Exception:
        log.exception("applying what reported in failed (a bug in seahealth); probing goes on")
        return 0


def apply_signals(now: datetime) -> int:
    """Apply the signals not yet applied to their dependencies' state; how many."""
    with transaction.atomic():
        signals = list(
            Signal.objects.filter(applied_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)[:BATCH]
        )
        if not signals:
            return 0
        touched = {signal.dependency_id for signal in signals}
        rows = list(Dependency.objects.filter(id__in=touched).only(*JOB_FIELDS, *HOLD_FIELDS))
        specs = {row.id: target_of(row.kind, row.spec) for row in rows}
        states = {
            s.dependency_id: s for s in InboundState.objects.filter(dependency_id__in=touched)
        }
        new = []
        for signal in signals:
            state = states.get(signal.dependency_id)
            if state is None:
                state = states[signal.dependency_id] = InboundState(
                    dependency_id=signal.dependency_id
                )
                new.append(state)
            apply(signal, specs.get(signal.dependency_id), state)
            signal.applied_at = now
        InboundState.objects.bulk_create(new)
        update_rows(InboundState, [s for s in states.values() if s not in new], _STATE_FIELDS)
        update_rows(Signal, signals, ["applied_at"])
        # Judged in this tick, not at their next interval: a failure reported is told now.
        # But an open breaker's trial is kept to: a recovery is taken then, as for a probe.
        for row in rows:
            row.next_due_at = max(now, held_until(row) or now)
        update_rows(Dependency, rows, ["next_due_at"])
    return len(signals)


def apply(signal: Signal, spec: object, state: InboundState) -> None:
    """One signal's effect on the state it reports on."""
    at = signal.received_at
    state.last_signal_at = at
    if signal.what == Signal.What.START:
        state.started_at = at
    elif signal.what == Signal.What.SUCCESS:
        if state.started_at is not None:
            state.run_time_ms = (at - state.started_at).total_seconds() * 1000
        state.started_at = None
        state.last_success_at = at
        state.failed, state.exit_code, state.detail = False, signal.exit_code, ""
    elif signal.what == Signal.What.FAIL:
        state.started_at = None
        state.failed, state.exit_code, state.detail = True, signal.exit_code, signal.body
    elif isinstance(spec, webhook.Spec):
        try:
            event = json.loads(signal.body)
        except ValueError:
            state.status, state.detail = "", "an event that is not JSON"
        else:
            state.status, state.detail = webhook.status_of(spec, event)


def judge_due(now: datetime) -> int:
    """Judge the heartbeats and webhooks due (BATCH at most), record the outcomes of those
    that reported something; how many were judged."""
    with transaction.atomic():
        rows = list(
            Dependency.objects.active()
            .filter(kind__in=PASSIVE_KINDS, next_due_at__lte=now)
            .order_by("next_due_at")
            .select_for_update(skip_locked=True)
            .only(*JOB_FIELDS)[:BATCH]
        )
        for row in rows:
            row.next_due_at = now + row.interval
        update_rows(Dependency, rows, ["next_due_at"])
    if not rows:
        return 0
    states = {s.dependency_id: s for s in InboundState.objects.filter(dependency__in=rows)}
    outcomes = []
    for row in rows:
        try:
            outcome = judged(row, states.get(row.id), now)
        except Exception:
            log.exception("judging %s crashed (a bug in seahealth)", row.name)
            outcome = Outcome(
                error_class=ErrorClass.INTERNAL,
                detail="judging it crashed; see the prober's log",
                checked_at=now,
            )
        if outcome is not None:
            outcomes.append((job_for(row), outcome))
    if outcomes:
        record(outcomes)
    return len(rows)


def judged(row: Dependency, state: InboundState | None, now: datetime):
    """The row's outcome now, from its state; None while it has reported nothing."""
    kind = kinds.kind(row.kind)
    spec = target_of(row.kind, row.spec)
    if state is None or not isinstance(spec, kind.Spec):
        return None
    reported = kind.Reported(
        **{field.name: getattr(state, field.name) for field in dataclasses.fields(kind.Reported)}
    )
    return kind.judge(spec, reported, now)
