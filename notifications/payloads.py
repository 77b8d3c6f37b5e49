"""What a message says, built once when it is formed: the Standard Webhooks body every
channel type renders from, and the short texts people read (subject, chat line).

    {"id": "msg_...", "type": "seahealth.status_changed", "service_status": "degraded",
     "events": [{"dependency": "payments-api", "kind": "http", "group": "payments",
                 "critical": true, "status": "down", "previous_status": "up",
                 "since": "2026-11-23T09:40:12Z", "error": "connect: connection refused",
                 "url": "https://seahealth.example.com/dependencies/payments-api/"}]}

A `seahealth.slo_burn` message carries one event, an SLO burn alert raised, changed or
cleared (notifications/slo_burns.py): no status or error, but

    {"dependency": "payments-api", "kind": "http", "group": "payments", "critical": true,
     "severity": "page", "previous_severity": null, "rule": "1h and 5m over 14.4",
     "objective": 0.999, "window": "30d", "availability": 0.9962,
     "budget_remaining": -2.8, "budget_remaining_minutes": -121.0,
     "burn_rates": {"5m": 1000.0, "30m": 1000.0, "1h": 16.7, "6h": 2.8, "1d": 2.8, "3d": 2.8},
     "since": "2026-11-23T11:00:00Z", "url": "https://seahealth.example.com/..."}

severity is `page` or `ticket`, or `resolved` when the alert cleared; a burn rate is null for
a window with fewer checks than the SLO's min_checks.

Nothing secret is in it: the error is the one the dependency's row shows (scrubbed of the
dependency's credentials when it was recorded), and nothing of a channel's config goes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from notifications.models import Event, EventType
from probes.durations import format_duration
from probes.models import Dependency
from probes.slo import format_percent
from probes.statuses import Status, service_status


def body(
    message_id: str,
    type: str,
    events: Sequence[Event],
    service_status: str,
    affected: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A test message has no event."""
    return {
        "id": message_id,
        "type": type,
        "service_status": service_status,
        "events": [entry(event, affected or {}) for event in events],
    }


def entry(event: Event, affected: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """An event of the body; an acknowledgement's also says who and what they wrote, and a
    parent's outage the dependencies it takes with it (depends_on) that are not up."""
    dependency = event.dependency
    if event.type == EventType.SLO_BURN:
        return burn_entry(event)
    found = {
        "dependency": dependency.name if dependency else None,
        "kind": dependency.kind if dependency else None,
        "group": (dependency.group or None) if dependency else None,
        "critical": dependency.critical if dependency else None,
        "status": event.status,
        "previous_status": event.previous_status or None,
        "since": timestamp(event.since),
        "error": event.error or None,
        "url": page_url(dependency.name) if dependency else None,
    }
    if event.type == EventType.ACKNOWLEDGED:
        found |= {"acknowledged_by": event.acknowledged_by, "note": event.note or None}
    children = (affected or {}).get(found["dependency"])
    if children and event.status == "down":
        found["affected"] = children
    return found


def burn_entry(event: Event) -> dict[str, Any]:
    """An SLO burn alert's event, from the figures stored when it changed."""
    dependency, figures = event.dependency, event.figures
    return {
        "dependency": dependency.name,
        "kind": dependency.kind,
        "group": dependency.group or None,
        "critical": dependency.critical,
        "severity": event.status,
        "previous_severity": event.previous_status or None,
        "rule": figures.get("rule") or None,
        "objective": figures.get("objective"),
        "window": format_duration(figures["window"]) if figures.get("window") else None,
        "availability": figures.get("availability"),
        "budget_remaining": figures.get("remaining"),
        "budget_remaining_minutes": figures.get("remaining_minutes"),
        "burn_rates": figures.get("burn", {}),
        "since": timestamp(event.since),
        "url": page_url(dependency.name),
    }


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def page_url(name: str) -> str:
    return settings.SEAHEALTH_BASE_URL + reverse("sh-dependency", args=[name])


def current_service_status() -> str:
    rows = Dependency.objects.active().values_list("status", "critical")
    return service_status((Status(status), critical) for status, critical in rows).value


def headline(event: dict[str, Any], type: str = EventType.STATUS_CHANGED) -> str:
    """One event in a few words: `payments-api is down`, `payments-api is up again (was
    down)`; the status always in it, for whoever filters on it (a mail rule, a chat search)."""
    name = event["dependency"]
    if type == EventType.SLO_BURN:
        return burn_headline(event)
    if type == EventType.REMINDER:
        return f"{name} is still {event['status']} (since {event['since']})"
    if type == EventType.ACKNOWLEDGED:
        note = f": {event['note']}" if event.get("note") else ""
        return f"{name} is down, acknowledged by {event['acknowledged_by']}{note}"
    if event.get("affected"):
        children = event["affected"]
        shown = ", ".join(children[:5]) + (
            f" and {len(children) - 5} more" if len(children) > 5 else ""
        )
        return f"{name} is {event['status']}, affecting {shown}"
    if event["status"] == "up":
        return f"{name} is up again (was {event['previous_status'] or 'unknown'})"
    return f"{name} is {event['status']}"


def burn_headline(event: dict[str, Any]) -> str:
    """`payments-api: SLO burn page (1h and 5m over 14.4), error budget 12% left`, or
    `payments-api: SLO burn resolved (was page)`."""
    name, severity = event["dependency"], event["severity"]
    if severity == "resolved":
        return f"{name}: SLO burn resolved (was {event['previous_severity'] or 'none'})"
    return f"{name}: SLO burn {severity} ({event['rule']}), {_budget_left(event)}"


def burn_details(event: dict[str, Any]) -> list[str]:
    """An SLO burn alert's figures, a line each, for the channels people read."""
    objective = format_percent(event["objective"]) if event["objective"] else "?"
    rates = ", ".join(
        f"{window} {'-' if rate is None else f'{rate:.3g}'}"
        for window, rate in event["burn_rates"].items()
    )
    return [
        f"SLO: {objective} over {event['window']}; {_budget_left(event)}",
        f"burn rates (1 spends the budget in exactly the window; - too few checks): {rates}",
    ]


def _budget_left(event: dict[str, Any]) -> str:
    left, minutes = event["budget_remaining"], event["budget_remaining_minutes"]
    if left is None:
        return "error budget not measured yet"
    if left < 0:
        return "error budget overspent"
    return f"error budget {left:.0%} left ({minutes:.0f} min)"


def summary(payload: dict[str, Any]) -> str:
    """The message in one line: its one event's headline, or how many changed and which."""
    events = payload["events"]
    if payload["type"] == EventType.TEST or not events:
        return "seahealth test notification: this channel works"
    if len(events) == 1:
        return headline(events[0], payload["type"])
    shown = ", ".join(f"{e['dependency']} {e['status']}" for e in events[:5])
    more = f" and {len(events) - 5} more" if len(events) > 5 else ""
    what = {EventType.REMINDER: "still down", EventType.ACKNOWLEDGED: "acknowledged"}.get(
        payload["type"], "changed"
    )
    return f"{len(events)} dependencies {what}: {shown}{more}"
