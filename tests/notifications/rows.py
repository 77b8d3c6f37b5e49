"""Outbox rows for tests, made directly (the outbox and the sender have their own tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from notifications.models import (
    Attempt,
    Channel,
    Delivery,
    DeliveryState,
    Event,
    EventType,
    Message,
    MessageState,
)
from probes.models import Dependency
from tests.factories import T0

HOOK_URL = "http://127.0.0.1:9/hook"
# A message's deliveries are in the state its own state implies.
DELIVERY_STATE = {
    MessageState.PENDING: DeliveryState.QUEUED,
    MessageState.SENT: DeliveryState.SENT,
    MessageState.DEAD: DeliveryState.DEAD,
}


def make_channel(name: str = "ops-hook", type: str = "webhook", **fields: Any) -> Channel:
    values: dict[str, Any] = {
        "config": {"url": HOOK_URL},
        "group_wait": timedelta(0),
        "give_up_after": timedelta(days=1),
    }
    return Channel.objects.create(name=name, type=type, **(values | fields))


def make_event(
    dependency: Dependency | None, status: str = "down", since: datetime = T0, **fields: Any
) -> Event:
    values: dict[str, Any] = {
        "type": EventType.STATUS_CHANGED,
        "previous_status": "up",
        "error": "connect: connection refused" if status == "down" else "",
        "created_at": since,
    }
    return Event.objects.create(
        dependency=dependency, status=status, since=since, **values | fields
    )


def make_delivery(event: Event, channel: Channel, state: str, **fields: Any) -> Delivery:
    values: dict[str, Any] = {"due_at": event.since}
    return Delivery.objects.create(
        event=event, channel=channel, dependency=event.dependency, state=state, **values | fields
    )


def make_message(
    channel: Channel,
    state: str = MessageState.SENT,
    created_at: datetime = T0,
    events: tuple[Event, ...] = (),
    **fields: Any,
) -> Message:
    """A message of `events` (none: a test message), with their deliveries."""
    values: dict[str, Any] = {
        "type": EventType.STATUS_CHANGED if events else EventType.TEST,
        "payload": {"id": "msg", "type": "seahealth.status_changed", "events": []},
        "next_attempt_at": created_at,
        "finished_at": created_at if state != MessageState.PENDING else None,
    }
    message = Message.objects.create(
        channel=channel, state=state, created_at=created_at, **values | fields
    )
    for event in events:
        make_delivery(event, channel, DELIVERY_STATE[state], message=message)
    return message


def make_attempt(message: Message, at: datetime, outcome: str = "sent", **fields: Any) -> Attempt:
    values: dict[str, Any] = {
        "duration_ms": 45.0,
        "status_code": 200 if outcome == "sent" else None,
    }
    return Attempt.objects.create(message=message, at=at, outcome=outcome, **values | fields)
