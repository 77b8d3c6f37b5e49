"""Retention: deletes history past the time it is kept for, in short batches.

Raw probe results are kept for SEAHEALTH_RAW_RETENTION, and so are minute rollups: they
repeat the raw results and would be by far the biggest table. Hour and day rollups, which
every uptime figure and the longer charts come from, are kept for
SEAHEALTH_ROLLUP_RETENTION. No kind of row is ever kept for less than the longest window
read from it, so pruning never changes an uptime figure or a chart. Breaker transitions
are kept: one row per change of state, the dependency page's timeline. Incidents and
status transitions (the public feed's) are kept as long as the hour and day rollups.
Heartbeats' pings go an hour after they are applied; webhooks' events after 25 hours, past
the longest tolerance of a replay (a day).
Notifications sent, dead or cancelled are kept for SEAHEALTH_NOTIFICATION_RETENTION; one
still to be sent or reminded of, however old, is not pruned.

Each batch is its own transaction, a few thousand rows picked and deleted by id, so no
table is locked for long: the prober's claims and records go in between.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from inbound.models import Signal
from notifications.models import UNFINISHED, Event, Message, MessageState
from probes import rollups, slo
from probes.models import Incident, Period, ProbeResult, Rollup, StatusTransition

# Rows deleted in one transaction: some 20 ms of SQLite's write lock for 5000 results.
BATCH_SIZE = 5000
# How often runprobes and Celery beat (CELERY_BEAT_SCHEDULE) prune.
EVERY_SECONDS = 600.0


def kept() -> dict[str, timedelta]:
    """How long each kind of row is kept."""
    raw, rolled_up = settings.SEAHEALTH_RAW_RETENTION, settings.SEAHEALTH_ROLLUP_RETENTION
    return {
        "probe_results": raw,
        # Never less than the 24h chart they draw, however short the raw retention.
        "minute_rollups": max(raw, _longest_window(Period.MINUTE)),
        "hour_rollups": max(rolled_up, _longest_window(Period.HOUR)),
        "day_rollups": max(rolled_up, _longest_window(Period.DAY)),
        "incidents": rolled_up,
        "status_transitions": rolled_up,
        "notification_messages": settings.SEAHEALTH_NOTIFICATION_RETENTION,
        "notification_events": settings.SEAHEALTH_NOTIFICATION_RETENTION,
        # Applied pings are in the heartbeat's state and history: an hour is for reading.
        "pings": timedelta(hours=1),
        # An event's id is how a replay is known: kept past the longest tolerance (a day).
        "webhook_events": timedelta(hours=25),
    }


def _longest_window(period: Period) -> timedelta:
    """How far back `period` buckets are read: by a chart, or by an uptime or SLO window
    (rollups.window_buckets reads minutes up to a day back and an hour more, hours and days
    as far as the longest window and a day more)."""
    lengths = [length for p, length, _ in rollups.CHART_WINDOWS.values() if p == period]
    day = rollups.PERIOD_LENGTH[Period.DAY]
    longest = max([*rollups.UPTIME_WINDOWS.values(), timedelta(seconds=slo.LONGEST_WINDOW)])
    lengths.append(day + timedelta(hours=1) if period == Period.MINUTE else longest + day)
    return max(lengths)


def expired(now: datetime | None = None) -> dict[str, models.QuerySet]:
    """Per kind of row, the rows past the time they are kept for (lazy: no query yet)."""
    now = now or timezone.now()
    keep = kept()
    rows: dict[str, models.QuerySet] = {
        "probe_results": ProbeResult.objects.filter(checked_at__lt=now - keep["probe_results"])
    }
    for period in Period:
        kind = f"{period.value}_rollups"
        # A bucket goes once all it counts is past its retention: it ends by the cutoff.
        last_start = now - keep[kind] - rollups.PERIOD_LENGTH[period]
        rows[kind] = Rollup.objects.filter(period=period, start__lte=last_start)
    # As long as the uptime they explain; an open one, however old, stays.
    rows["incidents"] = Incident.objects.filter(ended_at__lt=now - keep["incidents"])
    rows["status_transitions"] = StatusTransition.objects.filter(
        at__lt=now - keep["status_transitions"]
    )
    rows["notification_messages"] = Message.objects.filter(
        state__in=[MessageState.SENT, MessageState.DEAD],
        finished_at__lt=now - keep["notification_messages"],
    )
    # An event goes with its deliveries, once none is left to send or to remind of.
    rows["notification_events"] = (
        Event.objects.filter(created_at__lt=now - keep["notification_events"])
        .exclude(deliveries__state__in=UNFINISHED)
        .exclude(deliveries__remind_at__isnull=False)
    )
    rows["pings"] = Signal.objects.exclude(what=Signal.What.EVENT).filter(
        applied_at__lt=now - keep["pings"]
    )
    rows["webhook_events"] = Signal.objects.filter(
        what=Signal.What.EVENT,
        applied_at__isnull=False,
        received_at__lt=now - keep["webhook_events"],
    )
    return rows


def delete_batch(rows: models.QuerySet, batch_size: int = BATCH_SIZE) -> int:
    """Delete the `batch_size` lowest ids of `rows` in one short transaction; how many went."""
    with transaction.atomic():
        # The oldest rows have the lowest ids: the primary key's index finds them at once.
        ids = list(rows.order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            return 0
        deleted, _ = rows.model.objects.filter(id__in=ids).delete()
    return deleted


def pruning(now: datetime | None = None, batch_size: int = BATCH_SIZE) -> Iterator[tuple[str, int]]:
    """Delete what is past its retention one batch per step; yields (kind, rows deleted).

    Nothing is held between steps, so a caller may let other work in between (runprobes does).
    """
    for kind, rows in expired(now).items():
        while True:
            deleted = delete_batch(rows, batch_size)
            if deleted:
                yield kind, deleted
            # A short batch was the last one (or another pruner took the rest).
            if deleted < batch_size:
                break


def prune(now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete everything past its retention; how many rows of each kind went."""
    counts = dict.fromkeys(kept(), 0)
    for kind, deleted in pruning(now, batch_size):
        counts[kind] += deleted
    return counts


def summary(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items())
