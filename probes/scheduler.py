"""Claims due dependencies atomically and cuts them into batches.

A claim moves each dependency's next_due_at one interval ahead in the same transaction
that reads it, so a dependency is probed at most once per interval whoever else is
claiming (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one writer at a time), and a worker
that dies mid-batch leaves nothing stuck: its dependencies are due again next interval.

Jitter: a dependency probed for the first time, or more than an interval late (the prober
was down), gets a random phase across a whole interval; after that it keeps its phase. So
a thousand dependencies declared, or resumed, together do not keep firing together.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from probes.dependency_spec import DependencySpec
from probes.engine import Job
from probes.models import Dependency

T = TypeVar("T")
# What a claim reads: the declaration, and the schedule.
_JOB_FIELDS = ("id", *DependencySpec.COLUMNS, "next_due_at", "last_checked_at")


def next_due_at(
    interval: timedelta,
    due_at: datetime,
    first_probe: bool,
    now: datetime,
    rng: random.Random | None = None,
) -> datetime:
    """When to probe next: one interval from now, plus a random phase when one is needed.

    Never sooner than one interval from now. No jitter on an on-time claim: it would push
    the next one past a tick, and every interval would run a tick long.
    """
    if first_probe or now - due_at > interval:
        return now + interval * (1 + (rng or random).random())
    return now + interval


def claim_due(limit: int, now: datetime | None = None) -> list[Job]:
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            Dependency.objects.active()
            .filter(next_due_at__lte=now)
            .order_by("next_due_at")
            .select_for_update(skip_locked=True)
            .only(*_JOB_FIELDS)[:limit]
        )
        for row in rows:
            row.next_due_at = next_due_at(
                row.interval, row.next_due_at, row.last_checked_at is None, now
            )
        Dependency.objects.bulk_update(rows, ["next_due_at"])
    return [job_for(row) for row in rows]


def load_jobs(ids: Iterable[int]) -> list[Job]:
    """The jobs for dependencies claimed elsewhere (a Celery task carries only their ids)."""
    rows = Dependency.objects.active().filter(id__in=list(ids)).only(*_JOB_FIELDS)
    return [job_for(row) for row in rows]


def job_for(row: Dependency) -> Job:
    return Job(row.id, DependencySpec.from_row(row))


def batches(items: Sequence[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
