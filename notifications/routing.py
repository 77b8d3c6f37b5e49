"""Which channels hear of a dependency's status change: the events and deliveries that
recording writes in the transaction that changes the status (the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifications.declaration import matches
from notifications.models import Channel, Delivery, DeliveryState, Event, EventType, Route
from probes.models import Dependency
from probes.statuses import Status


@dataclass(frozen=True)
class Change:
    row: Dependency  # after the change
    previous: str


def record_changes(changes: Sequence[Change], now: datetime) -> int:
    """An event and its deliveries per change some route hears; how many events. A first
    check that finds a dependency up is no news, and is left out."""
    changes = [
        c for c in changes if not (c.previous == Status.UNKNOWN and c.row.status == Status.UP)
    ]
    if not changes:
        return 0
    routes = list(Route.objects.order_by("position"))
    if not routes:
        return 0
    channels = dict(Channel.objects.filter(archived_at__isnull=True).values_list("name", "id"))
    events, deliveries = [], []
    for change in changes:
        routed = channel_routes(routes, change.row, channels)
        if not routed:
            continue
        row = change.row
        event = Event(
            dependency=row,
            type=EventType.STATUS_CHANGED,
            status=row.status,
            previous_status=change.previous,
            since=row.status_since,
            error=row.last_error if row.status != Status.UP else "",
            created_at=now,
        )
        events.append(event)
        for channel, (route, tell) in routed.items():
            deliveries.append(
                Delivery(
                    event=event,
                    channel_id=channels[channel],
                    dependency=row,
                    state=DeliveryState.WAITING,
                    tell=tell,
                    due_at=row.status_since + route.notify_after,
                    repeat_every=route.repeat_every,
                )
            )
    # Ids in the order written: per dependency and channel, the order things are told in.
    Event.objects.bulk_create(events)
    Delivery.objects.bulk_create(deliveries)
    return len(events)


def channel_routes(
    routes: Sequence[Route], row: Dependency, channels: dict[str, int]
) -> dict[str, tuple[Route, bool]]:
    """Per channel some matching route names: the route whose settings apply, and whether
    the row's status is told. The first route that tells it wins, else the first naming it."""
    found: dict[str, tuple[Route, bool]] = {}
    for route in routes:
        if not matches(route.match, row):
            continue
        tell = row.status in route.on
        for channel in route.channels:
            if channel in channels and (channel not in found or (tell and not found[channel][1])):
                found[channel] = (route, tell)
    return found


def record_acknowledgement(row: Dependency, acknowledgement: Any, now: datetime) -> int:
    """A `seahealth.acknowledged` event for the channels that hear of this outage (told of it
    already, or about to be): how many channels."""
    channels = list(
        Delivery.objects.filter(
            dependency=row,
            event__type=EventType.STATUS_CHANGED,
            event__status=Status.DOWN,
            event__since=row.status_since,
            state__in=[DeliveryState.WAITING, DeliveryState.QUEUED, DeliveryState.SENT],
            tell=True,
        )
        .values_list("channel_id", flat=True)
        .distinct()
    )
    if not channels:
        return 0
    event = Event.objects.create(
        dependency=row,
        type=EventType.ACKNOWLEDGED,
        status=row.status,
        previous_status=row.status,
        since=row.status_since,
        error=row.last_error,
        created_at=now,
        acknowledged_by=acknowledgement.by,
        note=acknowledgement.note,
    )
    Delivery.objects.bulk_create(
        Delivery(
            event=event,
            channel_id=channel,
            dependency=row,
            state=DeliveryState.WAITING,
            due_at=now,
        )
        for channel in channels
    )
    return len(channels)
