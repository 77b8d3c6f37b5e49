"""Messages as the outbox forms them, from real rows, for the channel types' tests: each
made of Event rows by payloads.body, and sent with one shared httpx client as the sender
sends them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

import httpx

from notifications import payloads
from notifications.channels import Outgoing
from notifications.models import Event, EventType, message_id
from notifications.replies import Reply
from probes import error_budgets
from probes.models import Dependency
from tests.factories import T0, make_dependency

BASE_URL = "https://status.example.com"


@dataclass(frozen=True)
class Told:
    """One event of a message: a dependency's status change (or reminder)."""

    name: str = "payments-api"
    status: str = "down"
    previous: str = "up"
    error: str = "connect: connection refused"
    critical: bool = False
    group: str = ""
    since: Any = T0


def outgoing(
    *told: Told,
    type: str = EventType.STATUS_CHANGED,
    service_status: str = "degraded",
    channel: str = "ops",
) -> Outgoing:
    """A message of `told`'s events (none: a test message), its payload built by payloads."""
    events = [_event(one, type) for one in told]
    id_ = message_id()
    return Outgoing(id_, type, payloads.body(id_, type, events, service_status), channel)


def _event(told: Told, type: str) -> Event:
    dependency = Dependency.objects.filter(name=told.name).first() or make_dependency(
        told.name, critical=told.critical, group=told.group
    )
    return Event.objects.create(
        dependency=dependency,
        type=type,
        status=told.status,
        previous_status=told.previous,
        since=told.since,
        error=told.error,
        created_at=told.since + timedelta(seconds=1),
    )


def send(
    channel_type: ModuleType, message: Outgoing, config: dict[str, Any], timeout: float = 5.0
) -> Reply:
    """One attempt, as the sender makes it: its config resolved, its client shared."""

    async def attempt() -> Reply:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            return await channel_type.send(message, config, http)

    return asyncio.run(attempt())


def burn(
    severity: str = "page", previous: str = "", name: str = "checkout", remaining: float = 0.25
) -> Outgoing:
    """A `seahealth.slo_burn` message, its figures as error_budgets computes them for a 99.9%
    SLO over 30 days burning 20x over 1h and 5m (none over 3d: too few checks)."""
    burning = severity == "page"
    figures = error_budgets.Figures(
        objective=0.999,
        window=30 * 86400.0,
        availability=0.99925,
        coverage=86400.0,
        remaining=remaining,
        remaining_minutes=remaining * 43.2,
        burn={"5m": 20.0 if burning else 0.0, "30m": 8.0, "1h": 20.0, "6h": 3.0, "1d": 1.5}
        | {"3d": None},
        checks={"5m": 5, "30m": 30, "1h": 60, "6h": 360, "1d": 1440, "3d": 2},
        alert="" if severity == "resolved" else severity,
        rule="1h and 5m over 14.4" if burning else "",
    )
    dependency = Dependency.objects.filter(name=name).first() or make_dependency(name)
    event = Event.objects.create(
        dependency=dependency,
        type=EventType.SLO_BURN,
        status=severity,
        previous_status=previous,
        since=T0,
        created_at=T0,
        figures=figures.stored(),
    )
    id_ = message_id()
    body = payloads.body(id_, EventType.SLO_BURN, [event], "healthy")
    return Outgoing(id_, EventType.SLO_BURN, body, "ops")
