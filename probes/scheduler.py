"""Claims due dependencies atomically and cuts them into batches.

A claim moves each dependency's next_due_at one interval ahead in the same transaction
that reads it, so a dependency is probed at most once per interval whoever else is
claiming (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time), and a worker
that dies mid-batch leaves nothing stuck: its dependencies are due again next interval.

A claim may look ahead (the embedded prober claims a tick's worth of what comes due): each
Job carries when it is due, and the engine starts it then, not when it was claimed. So
probes start spread over time, as they are due, rather than in bursts at each tick, and a
dependency keeps its phase: probed every interval to the millisecond, not a tick late.

Jitter: a dependency probed for the first time, or more than an interval late (the prober
was down), gets a random phase across a whole interval; after that it keeps its phase. So
a thousand dependencies declared, or resumed, together do not keep firing together.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from probes import breaker
from probes.dependency_spec import DependencySpec
from probes.engine import Job, units
from probes.kinds import PASSIVE_KINDS
from probes.models import Dependency
from probes.outcomes import ErrorClass
from probes.row_updates import update_rows

# What a claim reads: the declaration, and the schedule.
JOB_FIELDS = ("id", *DependencySpec.COLUMNS, "next_due_at", "last_checked_at")
# What says whether a pool's member is held back (held_until).
HOLD_FIELDS = (
    "breaker_state",
    "breaker_failures",
    "breaker_successes",
    "breaker_opened_at",
    "last_error_class",
    "last_observations",
)


def next_due_at(
    interval: timedelta,
    due_at: datetime,
    first_probe: bool,
    now: datetime,
    rng: random.Random | None = None,
) -> datetime:
    """When to probe next: one interval after it was due (its phase kept), or, for a first
    probe or one more than an interval late, a random phase one to two intervals ahead."""
    if first_probe or now - due_at > interval:
        return max(now, due_at) + interval * (1 + (rng or random).random())
    return due_at + interval


def claim_due(limit: int, now: datetime | None = None, ahead: float = 0.0) -> list[Job]:
    """Up to `limit` dependencies due by `ahead` seconds from now, most overdue first; each
    Job starts when its dependency is due (at once if it is overdue)."""
    now = now or timezone.now()
    with transaction.atomic():
        horizon = now + timedelta(seconds=ahead)
        rows = list(
            Dependency.objects.active()
            .filter(next_due_at__lte=horizon)
            .exclude(kind__in=PASSIVE_KINDS)  # they report in: inbound/applying.py
            .order_by("next_due_at")
            .select_for_update(skip_locked=True)
            .only(*JOB_FIELDS)[:limit]
        )
        rows += _pool_members(rows, horizon)
        jobs = []
        for unit in units(rows, lambda row: row):
            # A pool's members start together, when the first of them is due, and keep one
            # phase at the shortest of their intervals.
            lead = min(unit, key=lambda row: row.next_due_at)
            start_at = max(lead.next_due_at, now)
            interval = min(row.interval for row in unit)
            due = next_due_at(interval, lead.next_due_at, lead.last_checked_at is None, now)
            for row in unit:
                jobs.append(job_for(row, start_at))
                row.next_due_at = due
        update_rows(Dependency, rows, ["next_due_at"])
    return jobs


def _pool_members(rows: list[Dependency], horizon: datetime) -> list[Dependency]:
    """The other members of the pools among `rows`, to be probed with them (rpc_pool.py);
    but for those held back (an open breaker, a peer's Retry-After), which come when due."""
    pools = {row.pool for row in rows if row.pool}
    if not pools:
        return []
    others = (
        Dependency.objects.active()
        .filter(pool__in=pools)
        .exclude(id__in=[row.id for row in rows])
        .order_by("id")
        .select_for_update(skip_locked=True)
        .only(*JOB_FIELDS, *HOLD_FIELDS)
    )
    return [row for row in others if (held_until(row) or horizon) <= horizon]


def held_until(row: Dependency) -> datetime | None:
    """The earliest it may be probed again, whatever its schedule: its open breaker's trial,
    or when a peer that rate-limited it said to come back (http_peers bounds the wait)."""
    held = [breaker.next_trial_at(row.breaker, row.policy)]
    wait = (row.last_observations or {}).get("retry_after_seconds")
    if row.last_error_class == ErrorClass.RATE_LIMITED and isinstance(wait, int | float):
        held.append(row.last_checked_at + timedelta(seconds=wait))
    return max((at for at in held if at is not None), default=None)


def unclaim(jobs: Iterable[Job]) -> None:
    """Give back claims of jobs that never started: each is due again when it was."""
    rows = [Dependency(id=job.dependency_id, next_due_at=job.start_at) for job in jobs]
    with transaction.atomic():
        update_rows(Dependency, rows, ["next_due_at"])


def load_jobs(ids: Iterable[int]) -> list[Job]:
    """The jobs for dependencies claimed elsewhere (a Celery task carries only their ids)."""
    rows = Dependency.objects.active().filter(id__in=list(ids)).only(*JOB_FIELDS)
    return [job_for(row) for row in rows]


def job_for(row: Dependency, start_at: datetime | None = None) -> Job:
    return Job(row.id, DependencySpec.from_row(row), start_at)


def batches(jobs: Sequence[Job], size: int) -> Iterator[list[Job]]:
    """The jobs in batches of about `size`; a pool's members in one batch (engine.units), so
    a batch holds more when a pool would straddle two."""
    batch: list[Job] = []
    for unit in units(jobs):
        batch += unit
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
