"""SLO burn alerts told by seahealth itself (issue 14, point 3): real checks in frozen time
(tests/probes/simulation.py), the error budgets refreshed as the prober refreshes them, and
the messages sent to a real receiver on loopback. Only routes with `on: [slo_burn]` hear of
them; each alert change is told once, cleared ones as resolved."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from notifications import slo_burns
from notifications.declaration import ChannelSpec, NotificationsSpec, RouteSpec
from notifications.models import Delivery, Event, EventType, Message
from notifications.sender import send_due
from notifications.sync import sync_notifications
from probes import error_budgets
from probes.models import Dependency, MaintenanceWindow, WindowSource
from probes.slo import Slo
from tests.factories import T0, make_dependency
from tests.probes import simulation
from tests.servers import LocalHTTPServer, Route

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
OUTAGE = (T0 + 50 * MINUTE, T0 + HOUR)  # checkout is down for the last 10 minutes of the hour


@pytest.fixture(autouse=True)
def _base_url(settings) -> None:
    settings.SEAHEALTH_BASE_URL = "https://status.example.com"
    settings.SEAHEALTH_NOTIFY_TIMEOUT = 2.0


@pytest.fixture
def receiver(http_server: LocalHTTPServer) -> LocalHTTPServer:
    """Two webhooks: /burns for a route with on: [slo_burn], /outages for one without."""
    http_server.routes["/burns"] = Route(200)
    http_server.routes["/outages"] = Route(200)
    channels = tuple(
        ChannelSpec(name, "webhook", {"url": http_server.url(f"/{name}")}, 0.0, 86400.0)
        for name in ("burns", "outages")
    )
    routes = (
        RouteSpec({}, ("burns",), ("slo_burn",), 0.0, None),
        RouteSpec({}, ("outages",), ("down", "up"), 0.0, None),
    )
    sync_notifications(NotificationsSpec(channels, routes), T0)
    return http_server


def checkout() -> Dependency:
    """A 99.9% SLO over 30 days, a check a minute (5 in the shortest burn window)."""
    return make_dependency(
        "checkout", interval=MINUTE, failure_threshold=1, slo=Slo(objective=0.999).stored()
    )


def peer_up(name: str, at: Any) -> bool:
    return not OUTAGE[0] <= at < OUTAGE[1]


def told(server: LocalHTTPServer, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in server.received if r.path == path]


def burns(server: LocalHTTPServer, path: str = "/burns") -> list[dict[str, Any]]:
    return [
        body["events"][0] for body in told(server, path) if body["type"] == "seahealth.slo_burn"
    ]


def send_at(moment) -> dict[str, int]:
    with freeze_time(moment):
        return send_due()


def test_a_fast_burn_pages_the_route_that_asks_for_it_and_no_other(receiver) -> None:
    checkout()
    simulation.run(peer_up, T0, T0 + HOUR)
    [change] = error_budgets.refresh(T0 + HOUR)
    assert (change.previous, change.current) == ("", "page")

    send_at(T0 + HOUR + timedelta(seconds=1))

    [event] = burns(receiver)
    assert event["dependency"] == "checkout"
    assert (event["severity"], event["previous_severity"]) == ("page", None)
    assert event["rule"] == "1h and 5m over 14.4"
    assert event["burn_rates"]["5m"] == pytest.approx(1000)  # down 100% against 0.1% allowed
    # Down from the first check after 50 minutes: 9 to 10 minutes of the hour.
    assert 150 < event["burn_rates"]["1h"] < 167
    assert 0.75 < event["budget_remaining"] < 0.8  # 9 to 10 minutes of 43.2
    assert (event["objective"], event["window"]) == (0.999, "30d")
    assert event["url"] == "https://status.example.com/dependencies/checkout/"
    # The other route hears of the outage, not of the burn.
    assert burns(receiver, "/outages") == []
    assert [body["type"] for body in told(receiver, "/outages")] == ["seahealth.status_changed"]


def test_a_refresh_repeated_tells_nothing_twice(receiver) -> None:
    checkout()
    simulation.run(peer_up, T0, T0 + HOUR)
    error_budgets.refresh(T0 + HOUR)
    assert error_budgets.refresh(T0 + HOUR) == []
    assert error_budgets.refresh(T0 + HOUR + timedelta(seconds=15)) == []
    send_at(T0 + HOUR + timedelta(seconds=20))
    send_at(T0 + HOUR + timedelta(seconds=40))
    assert Event.objects.filter(type=EventType.SLO_BURN).count() == 1
    assert len(burns(receiver)) == 1
    assert Message.objects.filter(type=EventType.SLO_BURN).get().state == "sent"


def test_the_page_falls_to_a_ticket_then_clears_as_resolved(receiver) -> None:
    checkout()
    simulation.run(peer_up, T0, T0 + HOUR)
    moments = [T0 + HOUR, T0 + HOUR + 40 * MINUTE, T0 + 8 * HOUR]
    previous = T0 + HOUR
    for moment in moments:
        simulation.run(peer_up, previous, moment)
        previous = moment
        error_budgets.refresh(moment)
        send_at(moment + timedelta(seconds=1))
    # 40 minutes up: 5m and 30m burn no more, but 3d and 6h still over 1. Seven hours up: the
    # 6h window holds none of the outage.
    told_ = [(e["severity"], e["previous_severity"], e["rule"]) for e in burns(receiver)]
    assert told_ == [
        ("page", None, "1h and 5m over 14.4"),
        ("ticket", "page", "3d and 6h over 1"),
        ("resolved", "ticket", None),
    ]


def test_a_burn_raised_inside_a_maintenance_window_waits_for_its_end(receiver) -> None:
    checkout()
    MaintenanceWindow.objects.create(
        name="db-upgrade",
        source=WindowSource.DECLARED,
        match={"name": ["checkout"]},
        start=T0 + 55 * MINUTE,
        end=T0 + HOUR + 10 * MINUTE,
    )
    # Down from 50 minutes: in the window from 55, so 5 minutes of it count.
    simulation.run(lambda name, at: at < OUTAGE[0], T0, T0 + HOUR)
    [change] = error_budgets.refresh(T0 + HOUR)
    send_at(T0 + HOUR + timedelta(seconds=1))
    assert burns(receiver) == []
    assert Delivery.objects.get(event__type=EventType.SLO_BURN).due_at == T0 + HOUR + 10 * MINUTE

    send_at(T0 + HOUR + 10 * MINUTE)
    assert [e["severity"] for e in burns(receiver)] == [change.current]


def test_a_bug_in_routing_costs_the_notifications_not_the_refresh(
    receiver, monkeypatch, caplog
) -> None:
    row = checkout()
    simulation.run(peer_up, T0, T0 + HOUR)

    def broken(changes, now) -> int:
        Event.objects.create(dependency=row, type=EventType.SLO_BURN, since=now, created_at=now)
        raise RuntimeError("a bug")

    monkeypatch.setattr(error_budgets, "record_burns", broken)
    with caplog.at_level(logging.ERROR, logger="probes.error_budgets"):
        assert len(error_budgets.refresh(T0 + HOUR)) == 1
    assert Dependency.objects.get(pk=row.pk).slo_figures["alert"] == "page"
    assert not Event.objects.filter(type=EventType.SLO_BURN).exists()  # its savepoint undone
    assert "checkout none -> page" in caplog.records[-1].getMessage()


def test_no_route_with_slo_burn_writes_nothing(receiver) -> None:
    sync_notifications(NotificationsSpec(), T0)
    checkout()
    simulation.run(peer_up, T0, T0 + HOUR)
    assert error_budgets.refresh(T0 + HOUR)
    assert not Event.objects.filter(type=EventType.SLO_BURN).exists()
    assert slo_burns.record_burns([], T0) == 0
