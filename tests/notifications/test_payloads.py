"""What a message says: the body built from the rows, the few words people read, and no
secret in either, even when a dependency's peer echoes its credentials back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.utils import timezone as django_timezone

from notifications import payloads
from notifications.declaration import ChannelSpec, NotificationsSpec, RouteSpec
from notifications.models import EventType, Message
from notifications.outbox import form_messages
from notifications.sync import sync_notifications
from probes.engine import run_batch_sync
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import make_dependency
from tests.notifications.messages import Told, outgoing
from tests.servers import LocalHTTPServer, Route

TOKEN = "tok_5f1c9a7e3b2d4c6a8e0f1a2b3c4d5e6f"


def event(dependency: str = "api", status: str = "down", **fields) -> dict:
    return {
        "dependency": dependency,
        "status": status,
        "previous_status": "up",
        "since": "2026-11-23T10:00:00Z",
        **fields,
    }


def payload(type: str, *events: dict) -> dict:
    return {"id": "msg_1", "type": type, "service_status": "degraded", "events": list(events)}


SUMMARIES = {
    "down": (payload(EventType.STATUS_CHANGED, event()), "api is down"),
    "degraded": (payload(EventType.STATUS_CHANGED, event(status="degraded")), "api is degraded"),
    "up": (
        payload(EventType.STATUS_CHANGED, event(status="up", previous_status="degraded")),
        "api is up again (was degraded)",
    ),
    "up from unknown": (
        payload(EventType.STATUS_CHANGED, event(status="up", previous_status=None)),
        "api is up again (was unknown)",
    ),
    "reminder": (
        payload(EventType.REMINDER, event()),
        "api is still down (since 2026-11-23T10:00:00Z)",
    ),
    "several": (
        payload(EventType.STATUS_CHANGED, event("a"), event("b", "up")),
        "2 dependencies changed: a down, b up",
    ),
    "many": (
        payload(EventType.STATUS_CHANGED, *(event(f"d{n}") for n in range(7))),
        "7 dependencies changed: d0 down, d1 down, d2 down, d3 down, d4 down and 2 more",
    ),
    "several reminders": (
        payload(EventType.REMINDER, event("a"), event("b")),
        "2 dependencies still down: a down, b down",
    ),
    "test": (payload(EventType.TEST), "seahealth test notification: this channel works"),
}


@pytest.mark.parametrize(("message", "summary"), SUMMARIES.values(), ids=SUMMARIES)
def test_the_summary_names_each_dependency_and_its_status(message: dict, summary: str) -> None:
    assert payloads.summary(message) == summary


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 11, 23, 10, 0, 0, 999999, tzinfo=UTC), "2026-11-23T10:00:00Z"),
        (
            datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-23T10:00:00Z",
        ),
    ],
    ids=["microseconds", "another zone"],
)
def test_times_are_utc_to_the_second(moment: datetime, shown: str) -> None:
    assert payloads.timestamp(moment) == shown


@pytest.mark.django_db
def test_the_body_is_built_from_the_rows(settings) -> None:
    settings.SEAHEALTH_BASE_URL = "https://status.example.com/seahealth"

    message = outgoing(Told("payments-api", "degraded", error="slow", critical=True, group="pay"))

    assert message.payload == {
        "id": message.id,
        "type": "seahealth.status_changed",
        "service_status": "degraded",
        "events": [
            {
                "dependency": "payments-api",
                "kind": "http",
                "group": "pay",
                "critical": True,
                "status": "degraded",
                "previous_status": "up",
                "since": "2026-11-23T10:00:00Z",
                "error": "slow",
                "url": "https://status.example.com/seahealth/dependencies/payments-api/",
            }
        ],
    }


@pytest.mark.django_db
def test_a_credential_the_peer_echoes_never_reaches_the_message(
    http_server: LocalHTTPServer,
) -> None:
    # The peer refuses, quoting the Authorization header it got in its reason phrase.
    http_server.routes["/health"] = Route(
        500, b"", reason=lambda request: f"denied {request.headers.get('Authorization')}"
    )
    row = make_dependency(
        "api",
        spec={
            "url": http_server.url("/health"),
            "method": "GET",
            "headers": {"Authorization": "Bearer ${API_TOKEN}"},
        },
        failure_threshold=1,
        status="up",
        status_since=django_timezone.now() - timedelta(hours=1),
        last_result="success",
    )
    channel = ChannelSpec("hook", "webhook", {"url": "http://127.0.0.1:9/"}, 0.0, 86400.0)
    route = RouteSpec({}, ("hook",), ("down", "up"), 0.0, None)
    sync_notifications(NotificationsSpec((channel,), (route,)), django_timezone.now())

    record(run_batch_sync([job_for(row)], environ={"API_TOKEN": TOKEN}))
    form_messages(django_timezone.now() + timedelta(seconds=1))

    [message] = Message.objects.all()
    [told] = message.payload["events"]
    assert (told["dependency"], told["status"]) == ("api", "down")
    assert "denied Bearer ***" in told["error"]
    assert TOKEN not in json.dumps(message.payload)
