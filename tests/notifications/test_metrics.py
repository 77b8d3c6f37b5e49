"""The notifications on /metrics: attempts by channel and outcome, the queue's depth and the
age of its oldest; well formed for prometheus_client's parser and promtool."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families

from notifications import sender
from notifications.models import DeliveryState, MessageState
from tests.factories import T0, make_dependency
from tests.notifications.rows import make_channel, make_delivery, make_event, make_message
from tests.servers import Route

pytestmark = pytest.mark.django_db

KEY = "9aa3d95b3bc440fa88ea12eaa4456161"


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def notifications(samples, channel: str) -> dict[str, float]:
    """seahealth_notifications_total of `channel`, by outcome."""
    return {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "seahealth_notifications_total" and dict(labels)["channel"] == channel
    }


def gauge(samples, name: str) -> float | None:
    return samples.get((name, ()))


def test_attempts_by_channel_and_outcome_as_counters_of_the_active_channels(client) -> None:
    make_channel("ops-hook", sent_total=12, failed_total=3, dead_total=1)
    make_channel("ops-mail", "email", config={"to": ["ops@example.com"]})
    make_channel("old-hook", sent_total=7, archived_at=timezone.now())
    samples = scrape(client)
    assert notifications(samples, "ops-hook") == {"sent": 12, "failed": 3, "dead": 1}
    assert notifications(samples, "ops-mail") == {"sent": 0, "failed": 0, "dead": 0}
    assert notifications(samples, "old-hook") == {}


def test_the_counters_grow_with_what_a_real_receiver_answers(client, http_server) -> None:
    http_server.routes["/hook"] = Route(200, b"ok")
    http_server.routes["/busy"] = Route(503, b"busy")
    taken = make_channel("taken", config={"url": http_server.url("/hook")})
    busy = make_channel("busy", config={"url": http_server.url("/busy")})
    sender.send_test(taken)
    sender.send_test(busy)  # a test is not retried: dead
    # A status change is tried again: failed, and still pending.
    event = make_event(make_dependency("api"), "down", timezone.now())
    make_message(busy, MessageState.PENDING, timezone.now(), (event,))
    assert sender.send_due() == {"failed": 1}
    samples = scrape(client)
    assert notifications(samples, "taken") == {"sent": 1, "failed": 0, "dead": 0}
    assert notifications(samples, "busy") == {"sent": 0, "failed": 1, "dead": 1}
    assert gauge(samples, "seahealth_notification_queue_depth") == 1


@freeze_time(T0)
def test_the_queue_depth_counts_the_events_not_yet_told(client) -> None:
    hook = make_channel()
    api = make_dependency("api")
    for state in [*DeliveryState]:
        make_delivery(make_event(api), hook, state, due_at=T0 + timedelta(minutes=5))
    make_message(hook, MessageState.PENDING, T0, (make_event(api), make_event(api)))
    # waiting and queued: one each above, and two in the pending message.
    assert gauge(scrape(client), "seahealth_notification_queue_depth") == 4


@freeze_time(T0)
@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param([], 0, id="nothing-waits"),
        pytest.param([("message", "pending", -600)], 600, id="a-message-pending"),
        pytest.param([("delivery", "waiting", -900)], 900, id="a-delivery-past-due"),
        pytest.param([("delivery", "waiting", 300)], 0, id="a-delivery-not-due-yet"),
        pytest.param(
            [("message", "pending", -60), ("delivery", "waiting", -90.5)],
            90.5,
            id="the-oldest-of-both",
        ),
        pytest.param(
            [
                ("message", "sent", -3600),
                ("message", "dead", -3600),
                ("delivery", "cancelled", -3600),
                ("delivery", "silent", -3600),
            ],
            0,
            id="finished-ones-are-not-pending",
        ),
    ],
)
def test_the_oldest_pending_is_how_long_the_oldest_unsent_one_waited(
    client, rows, expected
) -> None:
    hook = make_channel()
    api = make_dependency("api")
    for what, state, seconds in rows:
        moment = T0 + timedelta(seconds=seconds)
        if what == "message":
            make_message(hook, state, moment, (make_event(api, since=moment),))
        else:
            make_delivery(make_event(api, since=moment), hook, state, due_at=moment)
    assert gauge(scrape(client), "seahealth_notification_oldest_pending_seconds") == expected


def test_help_and_type_lines_come_before_each_family(client) -> None:
    make_channel()
    text = client.get("/metrics").content.decode()
    assert "# TYPE seahealth_notifications_total counter\n" in text
    assert (
        "# TYPE seahealth_notification_queue_depth gauge\nseahealth_notification_queue_depth"
        in (text)
    )
    assert (
        "# TYPE seahealth_notification_oldest_pending_seconds gauge\n"
        "seahealth_notification_oldest_pending_seconds 0.0\n"
    ) in text
    assert "# HELP seahealth_notifications_total Attempts to send a notification" in text


def test_no_url_nor_error_text_in_any_label(client) -> None:
    hook = make_channel(config={"url": f"https://hooks.example.com/v3/{KEY}"})
    message = make_message(hook, MessageState.DEAD, T0, last_error=f"HTTP 401 for {KEY}")
    assert message.last_error
    text = client.get("/metrics").content.decode()
    assert KEY not in text
    assert "hooks.example.com" not in text
    assert "HTTP 401" not in text


def test_the_query_count_does_not_grow_with_the_channels_or_the_queue(client) -> None:
    def queries_with(count: int) -> int:
        api = make_dependency(f"api-{count}")
        for n in range(count):
            hook = make_channel(f"hook-{count}-{n}")
            make_message(hook, MessageState.PENDING, T0, (make_event(api),))
            make_delivery(make_event(api), hook, DeliveryState.WAITING)
        with CaptureQueriesContext(connection) as captured:
            client.get("/metrics")
        return len(captured)

    assert queries_with(3) == queries_with(60)


def test_promtool_finds_nothing_to_say(client, promtool: str) -> None:
    hook = make_channel("ops-hook", sent_total=3, dead_total=1)
    make_channel("ops-mail", "email", config={"to": ["ops@example.com"]})
    make_message(hook, MessageState.PENDING, T0, (make_event(make_dependency("api")),))
    text = client.get("/metrics").content
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
