"""Incidents: every period a dependency spends down, written by recording as it opens and
closes (one query each way, and only when a status changes), and what happened inside one:
the breaker's moves and the notifications sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import Delivery
from probes.models import BreakerTransition, Dependency, Incident
from probes.statuses import Status


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
