"""The outbox from status change to message: who hears, when, in what order, and what is
never told (a status that did not last, a recovery of an outage never told)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from notifications import payloads
from notifications.declaration import ChannelSpec, NotificationsSpec, RouteSpec
from notifications.models import Delivery, Event, EventType, Message, MessageState
from notifications.outbox import form_messages, schedule_reminders
from notifications.replies import Reply
from notifications.sender import Tried, claim, settle
from notifications.sync import sync_notifications
from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def declare(*routes: RouteSpec, group_wait: float = 0.0, channels=("hook",)) -> None:
    spec = NotificationsSpec(
        channels=tuple(
            ChannelSpec(name, "webhook", {"url": "http://127.0.0.1:9/"}, group_wait, 86400.0)
            for name in channels
        ),
        routes=routes,
    )
    sync_notifications(spec, T0)


def route(
    channels=("hook",), on=("down", "up"), notify_after=0.0, repeat_every=None, **match
) -> RouteSpec:
    return RouteSpec(match, tuple(channels), tuple(on), notify_after, repeat_every)


def probe(row: Dependency, seconds: float, ok: bool) -> Dependency:
    """One check at T0 + seconds; the row as it is after it."""
    outcome = (
        Outcome(latency_ms=5.0, checked_at=at(seconds))
        if ok
        else Outcome(error_class=ErrorClass.CONNECT, detail="refused", checked_at=at(seconds))
    )
    with freeze_time(at(seconds)):
        record([(job_for(row), outcome)])
    return Dependency.objects.get(pk=row.pk)


def down(row: Dependency, seconds: float) -> Dependency:
    # failure_threshold 1: one failure opens the breaker.
    return probe(row, seconds, ok=False)


def up(row: Dependency, seconds: float) -> Dependency:
    # An open breaker waits recovery_timeout (0.001 s here) for its trial.
    return probe(row, seconds, ok=True)


def told(seconds: float) -> list[tuple[str, str]]:
    """Form what is due at T0 + seconds; every message so far as (dependency, status)."""
    with freeze_time(at(seconds)):
        form_messages(at(seconds))
    return [
        (event["dependency"], event["status"])
        for message in Message.objects.order_by("created_at", "id")
        for event in message.payload["events"]
    ]


def sent() -> None:
    """Every message so far sent (what the sender does once the receiver accepts it)."""
    Message.objects.update(state=MessageState.SENT)
    Delivery.objects.filter(state="queued").update(state="sent")


def dependency(name: str = "api", **fields) -> Dependency:
    return make_dependency(
        name,
        failure_threshold=1,
        recovery_timeout=timedelta(milliseconds=1),
        status="up",
        status_since=T0,
        last_result="success",
        **fields,
    )


def test_a_dependency_down_then_up_is_told_down_then_up() -> None:
    declare(route())
    row = dependency()
    row = down(row, 1)
    assert told(1) == [("api", "down")]
    up(row, 2)
    # The recovery waits for its outage's message to be sent.
    assert told(3) == [("api", "down")]
    Message.objects.update(state=MessageState.SENT)
    Delivery.objects.filter(state="queued").update(state="sent")
    assert told(4) == [("api", "down"), ("api", "up")]


def test_the_event_is_written_in_the_recording_transaction_with_one_delivery_per_channel() -> None:
    declare(
        route(channels=("hook", "other")), route(channels=("hook",)), channels=("hook", "other")
    )
    down(dependency(), 1)
    event = Event.objects.get()
    assert (event.type, event.status, event.previous_status, event.since) == (
        EventType.STATUS_CHANGED,
        "down",
        "up",
        at(1),
    )
    assert sorted(d.channel.name for d in Delivery.objects.all()) == ["hook", "other"]


def test_a_status_shorter_than_notify_after_is_never_told_nor_its_recovery() -> None:
    declare(route(notify_after=30.0))
    row = dependency()
    for seconds in range(10, 200, 20):  # down for 10 s, up for 10 s, and so on
        row = down(row, seconds)
        assert told(seconds + 5) == []
        row = up(row, seconds + 10)
        assert told(seconds + 15) == []
    assert told(400) == []
    assert set(Delivery.objects.values_list("state", flat=True)) == {"cancelled"}


def test_a_status_that_lasts_notify_after_is_told_once_it_has() -> None:
    declare(route(notify_after=30.0))
    down(dependency(), 1)
    assert told(30) == []
    assert told(31) == [("api", "down")]


def test_routes_match_on_critical_group_name_and_kind() -> None:
    declare(
        route(critical=True),
        route(channels=("other",), group=["payments"]),
        channels=("hook", "other"),
    )
    down(dependency("crit", critical=True), 1)
    down(dependency("pay", group="payments"), 1)
    down(dependency("neither"), 1)
    assert sorted(Delivery.objects.values_list("dependency__name", "channel__name")) == [
        ("crit", "hook"),
        ("pay", "other"),
    ]


def test_a_status_left_out_of_on_is_not_sent_but_the_channel_knows_it() -> None:
    declare(route(on=("down",)))
    row = down(dependency(), 1)
    assert told(1) == [("api", "down")]
    Message.objects.update(state=MessageState.SENT)
    Delivery.objects.filter(state="queued").update(state="sent")
    row = up(row, 10)
    assert told(11) == [("api", "down")]
    down(row, 20)
    # Down again after a recovery it was not told of: that is news.
    assert told(21) == [("api", "down"), ("api", "down")]


def test_group_wait_gathers_one_channels_events_into_one_message() -> None:
    declare(route(channels=("hook", "other")), group_wait=10.0, channels=("hook", "other"))
    for n in range(50):
        down(dependency(f"dep-{n:02}"), 1)
    assert told(5) == []
    told(11)
    messages = Message.objects.order_by("channel__name")
    assert [m.channel.name for m in messages] == ["hook", "other"]
    expected = [(f"dep-{n:02}", "down") for n in range(50)]
    for message in messages:
        assert [(e["dependency"], e["status"]) for e in message.payload["events"]] == expected


def test_a_reminder_comes_every_repeat_every_while_down_and_stops_when_up() -> None:
    declare(route(repeat_every=3600.0))
    row = down(dependency(), 1)
    told(1)
    with freeze_time(at(2)):
        [claimed] = claim(at(2))
        settle([Tried(claimed, Reply(status_code=200), at(2), 1.0)])
    assert schedule_reminders(at(3000)) == 0
    assert schedule_reminders(at(3603)) == 1
    assert told(3603)[-1] == ("api", "down")
    assert Message.objects.order_by("created_at").last().type == EventType.REMINDER
    up(row, 4000)
    assert schedule_reminders(at(9000)) == 0


def test_the_end_of_a_status_the_channel_was_never_told_is_no_news() -> None:
    declare(route(on=("down", "up")))
    row = make_dependency(
        "api", failure_threshold=2, status="up", status_since=T0, last_result="success"
    )
    row = probe(row, 1, ok=False)  # one failure, below the threshold: degraded, not told
    row = probe(row, 2, ok=True)
    assert row.status == "up"
    assert told(3) == []
    down(down(row, 4), 5)  # the threshold reached: down, and that is news
    assert told(6) == [("api", "down")]


def test_a_parent_down_with_its_children_is_one_message_naming_them_and_theirs_wait() -> None:
    declare(route(notify_after=5.0))
    vpn = down(dependency("vpn"), 1)
    children = [down(dependency(f"app-{n}", depends_on=["vpn"]), 2) for n in range(3)]
    assert told(10) == [("vpn", "down")]
    [message] = Message.objects.all()
    assert message.payload["events"][0]["affected"] == ["app-0", "app-1", "app-2"]
    assert "affecting app-0, app-1, app-2" in payloads.summary(message.payload)
    assert set(Delivery.objects.filter(state="waiting").values_list("held_by", flat=True)) == {
        "vpn"
    }
    sent()

    # app-0 comes back while vpn is down: its outage is never told, nor its recovery.
    up(children[0], 20)
    assert told(30) == [("vpn", "down")]
    # vpn comes back, app-1 and app-2 are still down: theirs go out now.
    up(vpn, 40)
    assert sorted(told(50)) == [
        ("app-1", "down"),
        ("app-2", "down"),
        ("vpn", "down"),
        ("vpn", "up"),
    ]
    cancelled = Delivery.objects.filter(dependency__name="app-0").values_list(
        "state", "cancelled_because"
    )
    assert sorted(cancelled) == [
        ("cancelled", "held back while vpn was down, and over by then"),
        ("cancelled", "no change since what the channel was last told"),
    ]
