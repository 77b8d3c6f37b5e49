"""The webhook channel against a real receiver on loopback, its signature checked by the
Standard Webhooks reference library, as a receiver would check it."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time

import pytest
from standardwebhooks.webhooks import Webhook

from notifications.channels import webhook
from notifications.models import EventType
from notifications.sender import Claimed, deliver
from tests.notifications.messages import BASE_URL, Told, outgoing, send
from tests.servers import LocalHTTPServer, Request, Route

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
EVENT_FIELDS = {
    "dependency",
    "kind",
    "group",
    "critical",
    "status",
    "previous_status",
    "since",
    "error",
    "url",
}


@pytest.fixture
def receiver(http_server: LocalHTTPServer) -> LocalHTTPServer:
    http_server.routes["/hook"] = Route(204, b"")
    return http_server


def only_request(server: LocalHTTPServer) -> Request:
    [request] = server.received
    return request


def test_the_body_is_the_documented_json_signed_with_standard_webhooks_headers(
    receiver: LocalHTTPServer,
) -> None:
    message = outgoing(
        Told("payments-api", "down", critical=True, group="payments"),
        Told("search", "up", previous="down", error=""),
    )

    reply = send(webhook, message, {"url": receiver.url("/hook"), "secret": SECRET})

    assert reply.sent
    request = only_request(receiver)
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == message.id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5
    body = Webhook(SECRET).verify(request.body, request.headers)
    assert body == message.payload
    assert set(body) == {"id", "type", "service_status", "events"}
    assert (body["id"], body["type"], body["service_status"]) == (
        message.id,
        "seahealth.status_changed",
        "degraded",
    )
    assert [set(event) for event in body["events"]] == [EVENT_FIELDS, EVENT_FIELDS]
    assert body["events"][0] == {
        "dependency": "payments-api",
        "kind": "http",
        "group": "payments",
        "critical": True,
        "status": "down",
        "previous_status": "up",
        "since": "2026-11-23T10:00:00Z",
        "error": "connect: connection refused",
        "url": f"{BASE_URL}/dependencies/payments-api/",
    }
    assert body["events"][1]["group"] is None
    assert body["events"][1]["error"] is None


def test_every_attempt_carries_the_same_id_and_a_fresh_valid_signature(
    receiver: LocalHTTPServer,
) -> None:
    message = outgoing(Told())
    config = {"url": receiver.url("/hook"), "secret": SECRET}
    receiver.routes["/hook"] = Route(503, b"busy")

    first = send(webhook, message, config)
    receiver.routes["/hook"] = Route(200, b"")
    second = send(webhook, message, config)

    assert (first.sent, second.sent) == (False, True)
    assert [r.headers["webhook-id"] for r in receiver.received] == [message.id, message.id]
    assert receiver.received[0].body == receiver.received[1].body
    for request in receiver.received:
        Webhook(SECRET).verify(request.body, request.headers)


def test_a_plain_secret_signs_with_its_utf8_bytes(receiver: LocalHTTPServer) -> None:
    send(webhook, outgoing(Told()), {"url": receiver.url("/hook"), "secret": "längre-hemlighet"})

    request = only_request(receiver)
    Webhook("längre-hemlighet".encode()).verify(request.body, request.headers)


def test_without_a_secret_the_message_is_sent_unsigned(receiver: LocalHTTPServer) -> None:
    message = outgoing(Told())

    assert send(webhook, message, {"url": receiver.url("/hook")}).sent

    headers = only_request(receiver).headers
    assert headers["webhook-id"] == message.id
    assert "webhook-timestamp" in headers
    assert "webhook-signature" not in headers


@pytest.mark.parametrize(
    ("secret", "why"),
    [("", "the secret is empty"), ("whsec_%%%", "must be base64")],
    ids=["empty", "whsec not base64"],
)
def test_a_secret_that_cannot_sign_sends_nothing(
    receiver: LocalHTTPServer, secret: str, why: str
) -> None:
    reply = send(webhook, outgoing(Told()), {"url": receiver.url("/hook"), "secret": secret})

    assert receiver.received == []
    assert reply.error.startswith("config: ")
    assert why in reply.error
    assert reply.permanent is False  # fixed in the environment, it goes out


def test_declared_headers_go_along_and_the_channels_secret_nowhere_else(
    receiver: LocalHTTPServer,
) -> None:
    config = {
        "url": receiver.url("/hook"),
        "secret": SECRET,
        "headers": {"Authorization": "Bearer hook-token-1234", "X-Team": "ops"},
    }

    send(webhook, outgoing(Told()), config)

    request = only_request(receiver)
    assert request.headers["Authorization"] == "Bearer hook-token-1234"
    assert request.headers["X-Team"] == "ops"
    key = SECRET.removeprefix("whsec_")
    assert key not in request.text()
    assert SECRET not in request.text()


def test_a_test_message_has_no_events(receiver: LocalHTTPServer) -> None:
    message = outgoing(type=EventType.TEST, service_status="healthy")

    send(webhook, message, {"url": receiver.url("/hook"), "secret": SECRET})

    body = Webhook(SECRET).verify(only_request(receiver).body, only_request(receiver).headers)
    assert body == {
        "id": message.id,
        "type": "seahealth.test",
        "service_status": "healthy",
        "events": [],
    }


def test_a_reminder_says_so_in_its_type(receiver: LocalHTTPServer) -> None:
    send(webhook, outgoing(Told(), type=EventType.REMINDER), {"url": receiver.url("/hook")})

    body = json.loads(only_request(receiver).body)
    assert body["type"] == "seahealth.reminder"
    assert body["events"][0]["status"] == "down"


def test_text_that_is_not_ascii_arrives_as_utf8_and_verifies(receiver: LocalHTTPServer) -> None:
    error = "unexpected_response: 'Service indisponible \u2013 réessayez' \u2717"
    send(webhook, outgoing(Told(error=error)), {"url": receiver.url("/hook"), "secret": SECRET})

    request = only_request(receiver)
    assert error.encode() in request.body
    assert Webhook(SECRET).verify(request.body, request.headers)["events"][0]["error"] == error


def test_the_sender_resolves_the_secret_from_the_environment(receiver: LocalHTTPServer) -> None:
    message = outgoing(Told())
    declared = {"url": receiver.url("/hook"), "secret": "${HOOK_SECRET}"}

    [tried] = asyncio.run(
        deliver([Claimed(message, "webhook", declared)], environ={"HOOK_SECRET": SECRET})
    )

    assert tried.reply.sent
    request = only_request(receiver)
    assert Webhook(SECRET).verify(request.body, request.headers) == message.payload
