"""SLO burn alerts (probes/error_budgets.py) told to people, for teams without Prometheus: a
`seahealth.slo_burn` event per alert change, and a delivery to each channel of the routes
whose `on` lists `slo_burn`, written in the refresh's transaction that stores the alert; then,
when a delivery is due, whether it is news to its channel.

An alert change is raised (ticket or page), changed (page to ticket, ticket to page), or
cleared: the event's status is `page`, `ticket` or RESOLVED. A refresh that finds the alert
as it was writes nothing, so repeated refreshes never tell it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from notifications.declaration import SLO_BURN, matches
from notifications.models import Channel, Delivery, DeliveryState, Event, EventType, Route
from probes.maintenance import Window, active

if TYPE_CHECKING:
    from probes.error_budgets import AlertChange

RESOLVED = "resolved"
# The deliveries whose alert the channel was told (or was being told: queued, dead).
_TOLD = (DeliveryState.QUEUED, DeliveryState.SENT, DeliveryState.DEAD)


def record_burns(changes: Sequence[AlertChange], now: datetime) -> int:
    """An event and its deliveries per alert change some route tells; how many events."""
    routes = [route for route in Route.objects.order_by("position") if SLO_BURN in route.on]
    if not changes or not routes:
        return 0
    channels = dict(Channel.objects.filter(archived_at__isnull=True).values_list("name", "id"))
    events, deliveries = [], []
    for change in changes:
        row = change.dependency
        names = {
            name
            for route in routes
            if matches(route.match, row)
            for name in route.channels
            if name in channels
        }
        if not names:
            continue
        event = Event(
            dependency=row,
            type=EventType.SLO_BURN,
            status=change.current or RESOLVED,
            previous_status=change.previous,
            since=now,
            created_at=now,
            figures=change.figures.stored(),
        )
        events.append(event)
        deliveries += [
            Delivery(
                event=event,
                channel_id=channels[name],
                dependency=row,
                state=DeliveryState.WAITING,
                due_at=now,
            )
            for name in sorted(names)
        ]
    Event.objects.bulk_create(events)
    Delivery.objects.bulk_create(deliveries)
    return len(events)


def decide(delivery: Delivery, windows: Sequence[Window]) -> bool:
    """Whether a burn alert's delivery goes into a message now. Muted as a status change is:
    an alert raised inside a maintenance window of its dependency waits for the window's end,
    and is cancelled if it changed again inside it. Resolved is news only to a channel told
    of the alert, and nothing is told twice in a row."""
    event = delivery.event
    window = None
    if windows and event.status != RESOLVED:
        window = active(windows, event.dependency, event.since)
    why = ""
    if window and _changed_before(delivery, window.until):
        why = f"in maintenance window {window.name}: the alert changed inside it"
    elif window and delivery.due_at < window.until:
        Delivery.objects.filter(id=delivery.id).update(due_at=window.until)
        return False  # told when the window ends, if the alert holds until then
    elif event.status == _last_told(delivery):
        why = "no change since what the channel was last told"
    if why:
        Delivery.objects.filter(id=delivery.id).update(
            state=DeliveryState.CANCELLED, cancelled_because=why
        )
        return False
    return True


def _changed_before(delivery: Delivery, moment: datetime) -> bool:
    return Event.objects.filter(
        dependency=delivery.dependency_id,
        type=EventType.SLO_BURN,
        id__gt=delivery.event_id,
        since__lt=moment,
    ).exists()


def _last_told(delivery: Delivery) -> str:
    """The alert the channel was last told of this dependency; RESOLVED when none."""
    told = (
        Delivery.objects.filter(
            dependency=delivery.dependency_id,
            channel=delivery.channel_id,
            event__type=EventType.SLO_BURN,
            state__in=_TOLD,
        )
        .order_by("-id")
        .values_list("event__status", flat=True)
        .first()
    )
    return told or RESOLVED
