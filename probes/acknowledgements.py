"""Acknowledging an outage ("I'm on it"): who and when on the row and in its incident, and a
`seahealth.acknowledged` notification to the channels told of the outage. Reminders stop
until the dependency leaves down; recording then clears the acknowledgement."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from notifications.routing import record_acknowledgement
from probes.models import Acknowledgement, Dependency, Incident, StateVersion
from probes.statuses import Status

NOTE_LENGTH = Acknowledgement._meta.get_field("note").max_length


class NotDown(Exception):
    """Only an outage can be acknowledged."""


def acknowledge(name: str, by: str, note: str = "", now: datetime | None = None) -> Acknowledgement:
    """Acknowledge the outage `name` is in. Dependency.DoesNotExist when there is no active
    dependency of that name, NotDown when it is not down."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked as recording locks it: neither overwrites what the other wrote.
        row = Dependency.objects.select_for_update().get(name=name, archived_at__isnull=True)
        if row.status != Status.DOWN:
            raise NotDown(f"{name} is {row.status}, not down: there is no outage to acknowledge")
        incident = Incident.objects.filter(dependency=row, ended_at__isnull=True).first()
        acknowledgement = Acknowledgement.objects.create(
            dependency=row, incident=incident, by=by, at=now, note=note[:NOTE_LENGTH]
        )
        row.acknowledged_by, row.acknowledged_at = by, now
        row.save(update_fields=["acknowledged_by", "acknowledged_at"])
        record_acknowledgement(row, acknowledgement, now)
        StateVersion.bump()
    return acknowledgement
