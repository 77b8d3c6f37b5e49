"""Makes the channel and route rows match the `notifications:` section; called inside the
declaration's sync transaction, so that both change together or not at all.

A channel that leaves the file is archived: what was waiting for it is cancelled, its
unsent messages are dead, and its history stays on /notifications/.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from notifications.declaration import NotificationsSpec, RouteSpec
from notifications.models import (
    UNFINISHED,
    Channel,
    Delivery,
    DeliveryState,
    Message,
    MessageState,
    Route,
)


def sync_notifications(spec: NotificationsSpec, now: datetime) -> list[str]:
    """What changed, in a few words each ("channel ops-hook created")."""
    changes = _sync_channels(spec, now)
    declared = [_route_values(route, position) for position, route in enumerate(spec.routes)]
    stored = list(Route.objects.order_by("position").values(*_ROUTE_FIELDS))
    if stored != declared:
        Route.objects.all().delete()
        Route.objects.bulk_create(Route(**values) for values in declared)
        changes.append(f"routes ({len(declared)})")
    return changes


_ROUTE_FIELDS = ("position", "match", "channels", "on", "notify_after", "repeat_every")


def _route_values(route: RouteSpec, position: int) -> dict[str, Any]:
    return {
        "position": position,
        "match": route.match,
        "channels": list(route.channels),
        "on": list(route.on),
        "notify_after": timedelta(seconds=route.notify_after),
        "repeat_every": (
            timedelta(seconds=route.repeat_every) if route.repeat_every is not None else None
        ),
    }


def _sync_channels(spec: NotificationsSpec, now: datetime) -> list[str]:
    changes = []
    rows = {row.name: row for row in Channel.objects.select_for_update()}
    for channel in spec.channels:
        values = {
            "type": channel.type,
            "config": channel.config,
            "group_wait": timedelta(seconds=channel.group_wait),
            "give_up_after": timedelta(seconds=channel.give_up_after),
        }
        row = rows.get(channel.name)
        if row is None:
            Channel.objects.create(name=channel.name, **values)
            changes.append(f"channel {channel.name} created")
        elif row.archived_at is not None or any(getattr(row, k) != v for k, v in values.items()):
            what = "restored" if row.archived_at is not None else "updated"
            Channel.objects.filter(id=row.id).update(archived_at=None, **values)
            changes.append(f"channel {channel.name} {what}")
    declared = {channel.name for channel in spec.channels}
    for name, row in rows.items():
        if name not in declared and row.archived_at is None:
            _archive(row, now)
            changes.append(f"channel {name} archived")
    return changes


def _archive(channel: Channel, now: datetime) -> None:
    why = "the channel left the declaration"
    Channel.objects.filter(id=channel.id).update(archived_at=now)
    Delivery.objects.filter(channel=channel, state=DeliveryState.WAITING).update(
        state=DeliveryState.CANCELLED, cancelled_because=why
    )
    unsent = Message.objects.filter(channel=channel, state=MessageState.PENDING)
    Delivery.objects.filter(Q(message__in=unsent), state__in=UNFINISHED).update(
        state=DeliveryState.DEAD
    )
    unsent.update(state=MessageState.DEAD, last_error=why, finished_at=now)
