"""Incidents: every period a dependency spends down, written by recording as it opens and
closes (one query each way, and only when a status changes), and what happened inside one:
the breaker's moves and the notifications sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from notifications.models import Delivery
from probes.models import BreakerTransition, Dependency, Incident
from probes.statuses import Status

# A month as the filters take it: 2026-11.
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


@dataclass(frozen=True)
class StatusChange:
    row: Dependency  # after the change
    previous: str
    previous_error: str  # the row's last error before the check that changed it


def record_incidents(changes: Sequence[StatusChange]) -> None:
    """Close the incidents of dependencies that left `down`, open one for each that went
    down. In the caller's transaction: with the status that changed."""
    for change in changes:
        if change.previous == Status.DOWN and change.row.status != Status.DOWN:
            # The last error is the failure before the check that brought it back.
            Incident.objects.filter(dependency=change.row, ended_at__isnull=True).update(
                ended_at=change.row.status_since, last_error=change.previous_error
            )
    Incident.objects.bulk_create(
        Incident(
            dependency=change.row,
            started_at=change.row.status_since,
            first_error=change.row.last_error,
            last_error=change.row.last_error,
        )
        for change in changes
        if change.row.status == Status.DOWN and change.previous != Status.DOWN
    )


def listed(group: str = "", month: str = "") -> QuerySet[Incident]:
    """Open ones first, then the newest; of a group's dependencies, started in a UTC month
    (`2026-11`)."""
    rows = Incident.objects.select_related("dependency").annotate(
        still_open=Case(
            When(ended_at__isnull=True, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    )
    if group:
        rows = rows.filter(dependency__group=group)
    if month:
        year, number = map(int, month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
        end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
        rows = rows.filter(started_at__gte=start, started_at__lt=end)
    return rows.order_by("still_open", "-started_at", "-id")


def transitions(incident: Incident) -> QuerySet[BreakerTransition]:
    """The breaker's moves from the incident's start to its end (or now)."""
    return BreakerTransition.objects.filter(
        dependency=incident.dependency_id,
        at__gte=incident.started_at,
        at__lte=incident.ended_at or timezone.now(),
    ).order_by("at", "id")


def notifications(incident: Incident) -> QuerySet[Delivery]:
    """The deliveries of the events of the incident's dependency inside it: its outage, its
    reminders and its recovery, each to each channel, with the message that carried it."""
    end: datetime = incident.ended_at or timezone.now()
    return (
        Delivery.objects.filter(
            dependency=incident.dependency_id,
            event__since__gte=incident.started_at,
            event__since__lte=end,
        )
        .select_related("event", "channel", "message")
        .order_by("id")
    )
