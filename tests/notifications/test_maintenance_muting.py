"""Maintenance windows in the outbox: what a window mutes, and what it only delays."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from notifications.models import Delivery, Message, MessageState
from notifications.outbox import schedule_reminders
from probes.models import MaintenanceWindow, WindowSource
from tests.notifications.test_outbox import at, declare, dependency, down, route, told, up

pytestmark = pytest.mark.django_db

# The window: from T0 + 100 s until T0 + 200 s, for `api` only.
OPENS, CLOSES = 100, 200


@pytest.fixture(autouse=True)
def window() -> None:
    MaintenanceWindow.objects.create(
        name="db-upgrade",
        source=WindowSource.DECLARED,
        match={"name": ["api"]},
        start=at(OPENS),
        end=at(CLOSES),
    )


def sent() -> None:
    """The receiver took every message so far: the next in line may be formed."""
    Message.objects.update(state=MessageState.SENT)
    Delivery.objects.filter(state="queued").update(state="sent")


def timeline(went_down: float, came_up: float | None) -> list[tuple[str, str]]:
    """Down at `went_down`, up at `came_up`; what the channel was told by T0 + 400 s,
    forming (and sending) every 10 s as a sender would."""
    declare(route())
    row = dependency()
    for second in range(0, 401, 10):
        if second == went_down:
            row = down(row, second)
        if second == came_up:
            row = up(row, second)
        told(second)
        sent()
    return told(400)


@pytest.mark.parametrize(
    ("went_down", "came_up", "expected"),
    [
        # Began and ended inside: nothing, neither the outage nor its recovery.
        (120, 180, []),
        # Began inside and still down when it closes: told then, late, and the recovery too.
        (120, 300, [("api", "down"), ("api", "up")]),
        (120, None, [("api", "down")]),
        # Began before: told as usual, whenever it ends.
        (50, 150, [("api", "down"), ("api", "up")]),
        (50, 300, [("api", "down"), ("api", "up")]),
        # Began after: as usual.
        (200, 300, [("api", "down"), ("api", "up")]),
    ],
)
def test_a_window_mutes_what_began_and_ended_inside_it(
    went_down: int, came_up: int | None, expected: list[tuple[str, str]]
) -> None:
    assert timeline(went_down, came_up) == expected


def test_a_status_that_began_inside_is_told_when_the_window_closes_not_before() -> None:
    declare(route())
    down(dependency(), 120)
    assert told(199) == []
    assert Delivery.objects.get().due_at == at(CLOSES)
    assert told(CLOSES) == [("api", "down")]


def test_the_muted_delivery_says_which_window_muted_it() -> None:
    timeline(120, 180)
    down_delivery = Delivery.objects.filter(event__status="down").get()
    assert down_delivery.state == "cancelled"
    assert down_delivery.cancelled_because == (
        "in maintenance window db-upgrade: the status ended inside it"
    )


def test_a_dependency_the_window_does_not_match_is_told_at_once() -> None:
    declare(route())
    down(dependency("other"), 120)
    assert told(120) == [("other", "down")]


def test_a_reminder_due_inside_a_window_waits_for_its_end() -> None:
    declare(route(repeat_every=60.0))
    down(dependency(), 10)
    told(10)
    with freeze_time(at(11)):
        sent()
        Delivery.objects.filter(state="sent").update(remind_at=at(70))
    assert schedule_reminders(at(70)) == 1  # before the window: as usual
    told(70)
    sent()
    Delivery.objects.filter(state="sent").order_by("-id").update(remind_at=None)
    last = Delivery.objects.order_by("-id").first()
    Delivery.objects.filter(id=last.id).update(remind_at=at(130))
    assert schedule_reminders(at(130)) == 0
    assert Delivery.objects.get(id=last.id).remind_at == at(CLOSES)
    assert schedule_reminders(at(CLOSES)) == 1
