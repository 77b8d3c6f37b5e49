"""Which channels hear of a status change, and what recording does when routing fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Channel, Delivery, Event, Route
from notifications.routing import channel_routes
from probes.models import Dependency, ProbeResult
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db


def make_route(position: int, channels: object, on=("down", "up"), **match) -> Route:
    return Route.objects.create(
        position=position,
        match=match,
        channels=channels,
        on=list(on),
        notify_after=timedelta(0),
        repeat_every=None,
    )


def make_channel(name: str) -> Channel:
    return Channel.objects.create(
        name=name,
        type="webhook",
        config={"url": "http://127.0.0.1:9/"},
        group_wait=timedelta(0),
        give_up_after=timedelta(days=1),
    )


def failing(row: Dependency) -> None:
    outcome = Outcome(error_class=ErrorClass.CONNECT, detail="refused", checked_at=timezone.now())
    record([(job_for(row), outcome)])


def dependency(name: str = "api", **fields) -> Dependency:
    values = {"status": "up", "status_since": T0, "last_result": "success", **fields}
    return make_dependency(name, failure_threshold=1, **values)


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        # The first route that tells the status sets the channel's settings.
        ([(["a"], ("up",)), (["a"], ("down",))], {"a": (1, True)}),
        # None tells it: the first naming the channel, silent.
        ([(["a"], ("up",)), (["a"], ("degraded",))], {"a": (0, False)}),
        ([(["a", "b"], ("down",)), (["b"], ("up",))], {"a": (0, True), "b": (0, True)}),
        # An archived (or unknown) channel hears nothing.
        ([(["gone"], ("down",))], {}),
    ],
)
def test_each_channel_gets_the_first_route_that_tells_the_status(routes, expected) -> None:
    make_channel("a")
    make_channel("b")
    rows = [make_route(n, list(names), on) for n, (names, on) in enumerate(routes)]
    row = dependency(status="down")
    channels = dict(Channel.objects.values_list("name", "id"))

    found = channel_routes(rows, row, channels)

    assert {name: (route.position, tell) for name, (route, tell) in found.items()} == expected


def test_a_first_check_that_finds_a_dependency_up_is_no_news() -> None:
    make_channel("a")
    make_route(0, ["a"])
    row = make_dependency("api")  # unknown until its first check
    record([(job_for(row), Outcome(latency_ms=1.0, checked_at=timezone.now()))])
    assert Dependency.objects.get().status == "up"
    assert Event.objects.count() == 0


def test_a_broken_route_costs_the_notification_not_the_results(caplog) -> None:
    make_channel("a")
    make_route(0, 5)  # a row no sync writes: channels is not a list
    failing(dependency())

    assert ProbeResult.objects.count() == 1
    assert Dependency.objects.get().status == "down"
    assert (Event.objects.count(), Delivery.objects.count()) == (0, 0)
    assert "notifications of 1 status changes were not written: api up -> down" in caplog.text
