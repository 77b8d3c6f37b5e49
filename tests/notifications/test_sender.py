"""The sender against a real receiver on loopback: sent once accepted, tried again with the
same id while the receiver fails, dead when it refuses for good or for too long, and never a
secret in what it keeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from notifications.channels import Outgoing
from notifications.declaration import ChannelSpec, NotificationsSpec, RouteSpec
from notifications.models import Attempt, Channel, Delivery, EventType, Message, MessageState
from notifications.sender import Claimed, claim, deliver, lease, send_due, send_test, take
from notifications.sync import sync_notifications
from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import T0, make_dependency
from tests.servers import HangingServer, LocalHTTPServer, Request, Route

pytestmark = pytest.mark.django_db

SECRET = "canary-secret-7f3a9c"


@pytest.fixture(autouse=True)
def _quick(settings, monkeypatch) -> None:
    settings.SEAHEALTH_NOTIFY_TIMEOUT = 1.0
    settings.SEAHEALTH_NOTIFY_RETRY_FIRST = 1.0
    settings.SEAHEALTH_NOTIFY_RETRY_MAX = 5.0
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def declare(url: str, give_up_after: float = 86400.0, repeat_every: float | None = None) -> None:
    config = {
        "url": url,
        "secret": "${HOOK_SECRET}",
        "headers": {"Authorization": "Bearer ${HOOK_SECRET}"},
    }
    channel = ChannelSpec("hook", "webhook", config, 0.0, give_up_after)
    route = RouteSpec({}, ("hook",), ("down", "up"), 0.0, repeat_every)
    sync_notifications(NotificationsSpec((channel,), (route,)), T0)


def goes_down(name: str = "api") -> Dependency:
    """A dependency recorded down now (its first failure opens its breaker)."""
    row = make_dependency(
        name, failure_threshold=1, status="up", status_since=T0, last_result="success"
    )
    failure = Outcome(
        error_class=ErrorClass.CONNECT, detail="connection refused", checked_at=timezone.now()
    )
    record([(job_for(row), failure)])
    return Dependency.objects.get(pk=row.pk)


def ids(server: LocalHTTPServer) -> list[str]:
    return [headers["webhook-id"] for _, _, headers in server.requests]


def test_a_message_accepted_is_sent_once_and_marked(http_server: LocalHTTPServer) -> None:
    http_server.routes["/hook"] = Route(200)
    declare(http_server.url("/hook"), repeat_every=3600.0)
    goes_down()

    assert send_due() == {"sent": 1}
    assert send_due() == {}

    message = Message.objects.get()
    assert ids(http_server) == [message.id]
    assert (message.state, message.attempts, message.last_status_code) == ("sent", 1, 200)
    delivery = Delivery.objects.get()
    assert delivery.state == "sent"
    # Down and told: a reminder is due repeat_every after it was sent.
    assert message.finished_at + timedelta(hours=1) == delivery.remind_at
    assert Channel.objects.get().sent_total == 1


def test_a_failing_receiver_gets_the_same_id_again_until_it_accepts(
    http_server: LocalHTTPServer,
) -> None:
    http_server.routes["/hook"] = Route(503, b"busy")
    declare(http_server.url("/hook"))
    goes_down()
    before = timezone.now()

    assert send_due() == {"failed": 1}
    message = Message.objects.get()
    assert message.state == MessageState.PENDING
    # Full jitter: anywhere from now to the first backoff (1 s here).
    assert before <= message.next_attempt_at <= timezone.now() + timedelta(seconds=1)
    attempt = Attempt.objects.get()
    assert (attempt.outcome, attempt.status_code, attempt.error) == (
        "failed",
        503,
        "HTTP 503 Service Unavailable: busy",
    )

    http_server.routes["/hook"] = Route(200)
    with freeze_time(timezone.now() + timedelta(seconds=2)):
        assert send_due() == {"sent": 1}
    assert ids(http_server) == [message.id, message.id]
    assert Message.objects.get().attempts == 2
    assert Channel.objects.values_list("sent_total", "failed_total", "dead_total").get() == (
        1,
        1,
        0,
    )


def test_retry_after_is_honoured(http_server: LocalHTTPServer) -> None:
    http_server.routes["/hook"] = Route(429, headers={"Retry-After": "120"})
    declare(http_server.url("/hook"))
    goes_down()
    with freeze_time(timezone.now()):
        assert send_due() == {"failed": 1}
        assert Message.objects.get().next_attempt_at == timezone.now() + timedelta(seconds=120)


def test_a_refusal_for_good_is_dead_at_once_and_the_next_message_goes(
    http_server: LocalHTTPServer,
) -> None:
    http_server.routes["/hook"] = Route(404, b"no such hook")
    declare(http_server.url("/hook"))
    row = goes_down()

    assert send_due() == {"dead": 1}
    message = Message.objects.get()
    assert (message.state, message.last_error) == ("dead", "HTTP 404 Not Found: no such hook")
    assert Delivery.objects.get().state == "dead"

    # Its recovery is not held back by it.
    http_server.routes["/hook"] = Route(200)
    later = timezone.now() + timedelta(minutes=2)  # past the breaker's recovery_timeout
    record([(job_for(row), Outcome(latency_ms=1.0, checked_at=later))])
    with freeze_time(later):
        assert send_due() == {"sent": 1}
    assert Message.objects.get(state="sent").payload["events"][0]["status"] == "up"


def test_a_message_failing_past_give_up_after_is_dead(http_server: LocalHTTPServer) -> None:
    http_server.routes["/hook"] = Route(500)
    declare(http_server.url("/hook"), give_up_after=60.0)
    goes_down()
    assert send_due() == {"failed": 1}
    with freeze_time(timezone.now() + timedelta(seconds=61)):
        assert send_due() == {"dead": 1}
    message = Message.objects.get()
    assert (message.state, message.attempts) == ("dead", 2)


def test_a_claimed_message_is_left_to_its_sender_until_its_lease_ends(
    http_server: LocalHTTPServer,
) -> None:
    http_server.routes["/hook"] = Route(200)
    declare(http_server.url("/hook"))
    goes_down()
    now = timezone.now()
    # A sender claims it and dies before settling.
    [first] = take(now)
    assert claim(now + lease() - timedelta(seconds=1)) == []
    [again] = claim(now + lease())
    assert again.outgoing.id == first.outgoing.id
    assert again.outgoing.payload == first.outgoing.payload


def test_an_unset_variable_fails_the_attempt_and_says_which(
    http_server: LocalHTTPServer, monkeypatch
) -> None:
    monkeypatch.delenv("HOOK_SECRET")
    declare(http_server.url("/hook"))
    goes_down()
    assert send_due() == {"failed": 1}
    assert http_server.requests == []
    assert Attempt.objects.get().error == (
        "config: environment variable HOOK_SECRET is not set (nor HOOK_SECRET_FILE)"
    )


def test_a_receiver_that_echoes_the_secret_does_not_get_it_kept(
    http_server: LocalHTTPServer,
) -> None:
    def echo(request: Request) -> bytes:
        return f"bad credentials: {request.headers['Authorization']}".encode()

    http_server.routes["/hook"] = Route(401, reply_to=echo)
    declare(http_server.url("/hook"))
    goes_down()
    assert send_due() == {"dead": 1}
    assert http_server.requests[0][2]["Authorization"] == f"Bearer {SECRET}"
    kept = Attempt.objects.get().error
    assert kept == Message.objects.get().last_error
    assert kept.startswith("HTTP 401 Unauthorized: bad credentials: Bearer ")
    assert SECRET not in kept


def test_a_hanging_receiver_costs_the_timeout_and_is_tried_again(hanging_server) -> None:
    declare(hanging_server.url("/hook"))
    goes_down()
    assert send_due() == {"failed": 1}
    assert Attempt.objects.get().error.startswith("timeout")


def test_a_test_message_is_sent_now_and_never_retried(http_server: LocalHTTPServer) -> None:
    http_server.routes["/hook"] = Route(503)
    declare(http_server.url("/hook"))
    tried = send_test(Channel.objects.get())
    assert tried.reply.status_code == 503
    message = Message.objects.get()
    assert (message.type, message.state, message.payload["events"]) == (
        "seahealth.test",
        "dead",
        [],
    )
    assert ids(http_server) == [message.id]


def test_a_channel_removed_from_the_declaration_sends_nothing_more(
    http_server: LocalHTTPServer,
) -> None:
    http_server.routes["/hook"] = Route(503)
    declare(http_server.url("/hook"))
    goes_down()
    send_due()
    sync_notifications(NotificationsSpec(), timezone.now())
    assert Message.objects.get().state == "dead"
    assert Delivery.objects.get().state == "dead"
    with freeze_time(timezone.now() + timedelta(minutes=5)):
        assert send_due() == {}
    assert len(http_server.requests) == 1


def claimed(url: str, number: int) -> Claimed:
    outgoing = Outgoing(f"msg_{number}", EventType.STATUS_CHANGED, {"events": []}, "hook")
    return Claimed(outgoing, "webhook", {"url": url})


def test_a_receiver_that_hangs_does_not_hold_up_another_channels_messages(
    hanging_server: HangingServer, http_server: LocalHTTPServer
) -> None:
    http_server.routes["/hook"] = Route(status=204, body=b"")
    # More than httpx's default pool of 100 connections, every one of them held.
    stuck = [claimed(hanging_server.url("/hook"), number) for number in range(150)]

    *hung, other = asyncio.run(deliver([*stuck, claimed(http_server.url("/hook"), 150)]))

    assert {tried.reply.error.split(":")[0] for tried in hung} == {"timeout"}
    assert other.reply.sent, other.reply.error
