"""PagerDuty: Events API v2. A dependency down or degraded triggers an alert, its recovery
resolves it: the dedup_key is the dependency's, so the incident resolves itself. An SLO burn
alert (seahealth.slo_burn) triggers and resolves an alert of its own, under its own key.

    pager: {type: pagerduty, routing_key: "${PD_ROUTING_KEY}"}

One event per request (the API takes no batch), so a pagerduty channel does not group.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from notifications import payloads
from notifications.channels import Outgoing
from notifications.models import EventType
from notifications.replies import Reply, post
from probes.fields import Fields
from probes.http_peers import check_url

GROUPS = False
EVENTS_API = "https://events.pagerduty.com/v2/enqueue"


def parse(fields: Fields) -> dict[str, Any]:
    return {
        "routing_key": fields.secret("routing_key"),
        # Another endpoint: PagerDuty's EU service region, or a proxy.
        "url": check_url(fields, "url", ("https", "http"), required=False) or EVENTS_API,
    }


def dedup_key(event: dict[str, Any]) -> str:
    return f"seahealth/{event['dependency']}"


def events(outgoing: Outgoing, routing_key: str) -> list[dict[str, Any]]:
    """The Events API v2 events of a message: a trigger, an acknowledge or a resolve per
    event."""
    if outgoing.type == EventType.TEST:
        # A test opens nothing that stays open: triggered, then resolved at once. Its key is
        # the message's: a dependency named `test` keeps its own incident.
        test = {"dependency": "test", "status": "down", "critical": False}
        key = f"seahealth-test/{outgoing.id}"
        trigger = _trigger(routing_key, test, payloads.summary(outgoing.payload), "info", key)
        return [trigger, _resolve(routing_key, test, key)]
    found = []
    for event in outgoing.payload["events"]:
        if outgoing.type == EventType.SLO_BURN:
            found.append(_burn(routing_key, event))
        elif outgoing.type == EventType.ACKNOWLEDGED:
            found.append(_resolve(routing_key, event, action="acknowledge"))
        elif event["status"] == "up":
            found.append(_resolve(routing_key, event))
        else:
            severity = "warning" if event["status"] == "degraded" else None
            severity = severity or ("critical" if event["critical"] else "error")
            found.append(
                _trigger(routing_key, event, payloads.headline(event, outgoing.type), severity)
            )
    return found


def _trigger(
    routing_key: str, event: dict[str, Any], summary: str, severity: str, key: str = ""
) -> dict[str, Any]:
    details = {
        k: event.get(k) for k in ("status", "previous_status", "since", "error", "kind", "group")
    }
    payload = {
        "summary": summary[:1024],
        "source": "seahealth",
        "severity": severity,
        "component": event["dependency"],
        "custom_details": details,
    }
    if event.get("group"):
        # Optional: left out when there is none, rather than sent as null.
        payload["group"] = event["group"]
    found = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key or dedup_key(event),
        "payload": payload,
    }
    if event.get("url"):
        found["links"] = [{"href": event["url"], "text": "seahealth"}]
    return found


def burn_dedup_key(event: dict[str, Any]) -> str:
    """An SLO burn's alert of its own: its outage's incident may open and close meanwhile."""
    return f"seahealth-slo/{event['dependency']}"


def _burn(routing_key: str, event: dict[str, Any]) -> dict[str, Any]:
    """A burn alert raised or changed triggers (a page critical, a ticket a warning: a new
    trigger on the same key updates the alert); cleared, it resolves."""
    key = burn_dedup_key(event)
    if event["severity"] == "resolved":
        return _resolve(routing_key, event, key)
    severity = "critical" if event["severity"] == "page" else "warning"
    found = _trigger(routing_key, event, payloads.burn_headline(event), severity, key)
    found["payload"]["custom_details"] = {
        k: event[k]
        for k in ("severity", "rule", "objective", "window", "budget_remaining", "burn_rates")
    }
    return found


def _resolve(
    routing_key: str, event: dict[str, Any], key: str = "", action: str = "resolve"
) -> dict[str, Any]:
    """A resolve (or an acknowledge: the same shape, the incident's key alone)."""
    return {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": key or dedup_key(event),
    }


async def send(outgoing: Outgoing, config: dict[str, Any], http: httpx.AsyncClient) -> Reply:
    reply = Reply()
    for event in events(outgoing, config["routing_key"]):
        content = json.dumps(event).encode()
        reply = await post(http, config["url"], content, {"content-type": "application/json"})
        if not reply.sent:
            return reply
    return reply
