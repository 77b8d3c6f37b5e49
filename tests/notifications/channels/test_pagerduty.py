"""The PagerDuty channel against a real Events API v2 stand-in on loopback: an outage
triggers, its recovery resolves the same alert (dedup_key), a test opens nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from notifications.channels import Outgoing, pagerduty
from notifications.models import EventType
from probes.fields import Fields
from tests.notifications.messages import BASE_URL, Told, burn, outgoing, send
from tests.servers import LocalHTTPServer, Route

pytestmark = pytest.mark.django_db

ROUTING_KEY = "R0UT1NGK3Y0123456789abcdef012345"
ACCEPTED = Route(202, b'{"status":"success","message":"Event processed","dedup_key":"x"}')


@pytest.fixture
def events_api(http_server: LocalHTTPServer) -> LocalHTTPServer:
    http_server.routes["/v2/enqueue"] = ACCEPTED
    return http_server


def config(server: LocalHTTPServer) -> dict[str, str]:
    return {"routing_key": ROUTING_KEY, "url": server.url("/v2/enqueue")}


def posted(server: LocalHTTPServer) -> list[dict[str, Any]]:
    for request in server.received:
        assert (request.method, request.path) == ("POST", "/v2/enqueue")
        assert request.headers["content-type"] == "application/json"
    return [json.loads(request.body) for request in server.received]


def test_a_critical_dependency_down_triggers_a_critical_alert(events_api: LocalHTTPServer) -> None:
    message = outgoing(Told("payments-api", "down", critical=True, group="payments"))

    reply = send(pagerduty, message, config(events_api))

    assert reply.sent
    assert reply.status_code == 202
    assert posted(events_api) == [
        {
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "seahealth/payments-api",
            "payload": {
                "summary": "payments-api is down",
                "source": "seahealth",
                "severity": "critical",
                "component": "payments-api",
                "group": "payments",
                "custom_details": {
                    "status": "down",
                    "previous_status": "up",
                    "since": "2026-11-23T10:00:00Z",
                    "error": "connect: connection refused",
                    "kind": "http",
                    "group": "payments",
                },
            },
            "links": [{"href": f"{BASE_URL}/dependencies/payments-api/", "text": "seahealth"}],
        }
    ]


SEVERITIES = {
    "down, critical": ("down", True, "critical"),
    "down, not critical": ("down", False, "error"),
    "degraded, critical": ("degraded", True, "warning"),
    "degraded, not critical": ("degraded", False, "warning"),
}


@pytest.mark.parametrize(("status", "critical", "severity"), SEVERITIES.values(), ids=SEVERITIES)
def test_the_severity_follows_the_status_and_criticality(
    events_api: LocalHTTPServer, status: str, critical: bool, severity: str
) -> None:
    send(pagerduty, outgoing(Told("search", status, critical=critical)), config(events_api))

    [event] = posted(events_api)
    assert (event["event_action"], event["payload"]["severity"]) == ("trigger", severity)
    # No group declared: left out, not sent as null.
    assert "group" not in event["payload"]


def test_a_recovery_resolves_the_alert_its_outage_opened(events_api: LocalHTTPServer) -> None:
    send(pagerduty, outgoing(Told("search", "down")), config(events_api))
    send(pagerduty, outgoing(Told("search", "up", previous="down", error="")), config(events_api))

    trigger, resolve = posted(events_api)
    assert trigger["dedup_key"] == resolve["dedup_key"] == "seahealth/search"
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "seahealth/search",
    }


def test_a_reminder_triggers_the_same_alert_again(events_api: LocalHTTPServer) -> None:
    send(pagerduty, outgoing(Told("search", "down"), type=EventType.REMINDER), config(events_api))

    [event] = posted(events_api)
    assert event["dedup_key"] == "seahealth/search"
    assert event["payload"]["summary"] == "search is still down (since 2026-11-23T10:00:00Z)"


def test_a_test_message_triggers_then_resolves_an_alert_of_its_own(
    events_api: LocalHTTPServer,
) -> None:
    # A dependency named `test` has an open incident: the test message must not resolve it.
    message = outgoing(type=EventType.TEST)

    assert send(pagerduty, message, config(events_api)).sent

    trigger, resolve = posted(events_api)
    assert (trigger["event_action"], resolve["event_action"]) == ("trigger", "resolve")
    assert trigger["dedup_key"] == resolve["dedup_key"] == f"seahealth-test/{message.id}"
    assert trigger["dedup_key"] != "seahealth/test"
    assert trigger["payload"]["severity"] == "info"
    assert trigger["payload"]["summary"] == "seahealth test notification: this channel works"


def test_a_test_whose_trigger_fails_sends_no_resolve(http_server: LocalHTTPServer) -> None:
    http_server.routes["/v2/enqueue"] = Route(400, b'{"status":"invalid event"}')

    reply = send(pagerduty, outgoing(type=EventType.TEST), config(http_server))

    assert len(posted(http_server)) == 1
    assert reply.permanent is True
    assert "invalid event" in reply.error


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, True), (403, True), (429, False), (500, False)],
)
def test_the_apis_refusals_are_final_and_its_throttling_retried(
    http_server: LocalHTTPServer, status: int, permanent: bool
) -> None:
    http_server.routes["/v2/enqueue"] = Route(status, b'{"status":"nope"}')

    reply = send(pagerduty, outgoing(Told()), config(http_server))

    assert (reply.sent, reply.permanent, reply.status_code) == (False, permanent, status)


def test_the_routing_key_is_sent_as_the_routing_key_and_nowhere_else(
    events_api: LocalHTTPServer,
) -> None:
    send(pagerduty, outgoing(Told(critical=True)), config(events_api))

    [request] = events_api.received
    body = json.loads(request.body)
    assert body.pop("routing_key") == ROUTING_KEY
    assert ROUTING_KEY not in json.dumps(body)
    assert ROUTING_KEY not in str(request.headers) + request.path


def test_the_default_endpoint_is_pagerdutys_events_api() -> None:
    fields = Fields({"routing_key": "${PD_KEY}"}, "dependencies.yaml", "channel", [])

    assert pagerduty.parse(fields) == {
        "routing_key": "${PD_KEY}",
        "url": "https://events.pagerduty.com/v2/enqueue",
    }


def test_an_acknowledgement_acknowledges_the_alert_its_outage_opened() -> None:
    event = {"dependency": "api", "status": "down", "acknowledged_by": "ops", "note": None}
    message = Outgoing("msg_1", EventType.ACKNOWLEDGED, {"events": [event]}, "pager")

    assert pagerduty.events(message, ROUTING_KEY) == [
        {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "seahealth/api"}
    ]


def test_an_slo_burn_triggers_an_alert_of_its_own_and_its_clearing_resolves_it(
    events_api: LocalHTTPServer,
) -> None:
    assert send(pagerduty, burn("page"), config(events_api)).sent
    assert send(pagerduty, burn("ticket", previous="page"), config(events_api)).sent
    assert send(pagerduty, burn("resolved", previous="ticket"), config(events_api)).sent

    page, ticket, resolved = posted(events_api)
    assert page["event_action"] == "trigger"
    assert page["dedup_key"] == "seahealth-slo/checkout"  # not the outage's seahealth/checkout
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"] == (
        "checkout: SLO burn page (1h and 5m over 14.4), error budget 25% left (11 min)"
    )
    assert page["payload"]["custom_details"]["burn_rates"]["1h"] == 20.0
    assert page["payload"]["custom_details"]["budget_remaining"] == 0.25
    # A trigger on the same key updates the alert: a ticket now.
    assert (ticket["event_action"], ticket["dedup_key"]) == ("trigger", "seahealth-slo/checkout")
    assert ticket["payload"]["severity"] == "warning"
    assert resolved == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "seahealth-slo/checkout",
    }
