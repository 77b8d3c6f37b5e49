"""/incidents/ and an incident's page: open ones first, filters by group and month, what
happened inside one, behind the login, in a constant number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Channel, Delivery, Event
from probes.models import BreakerTransition, Incident
from tests.factories import make_dependency

pytestmark = pytest.mark.django_db

NOV = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
OCT = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)


def incident(name: str, started: datetime, minutes: float | None, group: str = "") -> Incident:
    dependency = make_dependency(name, group=group, status="down" if minutes is None else "up")
    ended = started + timedelta(minutes=minutes) if minutes is not None else None
    return Incident.objects.create(
        dependency=dependency,
        started_at=started,
        ended_at=ended,
        first_error="connect: connection refused",
        last_error="timeout: read",
    )


def listed(page) -> list[str]:
    return [row.dependency.name for row in page.context["page"]]


def test_open_incidents_come_first_then_the_newest(viewer) -> None:
    incident("old", OCT, 5)
    incident("newer", NOV, 5)
    incident("open-one", OCT - timedelta(days=30), None)
    page = viewer.get("/incidents/")
    assert page.status_code == 200
    assert listed(page) == ["open-one", "newer", "old"]
    assert "open" in page.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?group=payments", ["pay-nov", "pay-oct"]),
        ("?month=2026-10", ["pay-oct", "other-oct"]),
        ("?group=payments&month=2026-11", ["pay-nov"]),
        ("?group=nobody", []),
    ],
)
def test_incidents_are_filtered_by_group_and_month(viewer, query, expected) -> None:
    incident("pay-nov", NOV, 5, group="payments")
    incident("pay-oct", OCT + timedelta(days=1), 5, group="payments")
    incident("other-oct", OCT, 5)
    assert listed(viewer.get(f"/incidents/{query}")) == expected


@pytest.mark.parametrize("month", ["2026-13", "26-11", "november", "2026-1"])
def test_a_bad_month_is_a_400_with_the_reason(viewer, month) -> None:
    answer = viewer.get(f"/incidents/?month={month}")
    assert answer.status_code == 400
    assert "a month is written YYYY-MM" in answer.content.decode()


def test_the_list_takes_the_same_queries_for_ten_incidents_as_for_one(viewer) -> None:
    incident("first", NOV, 5)
    with CaptureQueriesContext(connection) as one:
        viewer.get("/incidents/")
    for n in range(9):
        incident(f"more-{n}", NOV - timedelta(days=n + 1), 5)
    with CaptureQueriesContext(connection) as ten:
        assert len(listed(viewer.get("/incidents/"))) == 10
    assert len(ten) == len(one)


def test_an_incident_page_shows_its_errors_breaker_and_notifications(viewer) -> None:
    row = incident("api", NOV, 30)
    BreakerTransition.objects.create(
        dependency=row.dependency, at=NOV, from_state="closed", to_state="open", reason="3 failures"
    )
    BreakerTransition.objects.create(
        dependency=row.dependency,
        at=NOV + timedelta(hours=2),
        from_state="closed",
        to_state="open",
        reason="a later outage",
    )
    channel = Channel.objects.create(
        name="ops-hook",
        type="webhook",
        config={"url": "https://hooks.example.com/x"},
        group_wait=timedelta(0),
        give_up_after=timedelta(days=1),
    )
    event = Event.objects.create(
        dependency=row.dependency,
        type="seahealth.status_changed",
        status="down",
        previous_status="up",
        since=NOV,
        created_at=NOV,
    )
    Delivery.objects.create(
        event=event, channel=channel, dependency=row.dependency, state="sent", due_at=NOV
    )

    page = viewer.get(f"/incidents/{row.pk}/").content.decode()

    assert "connect: connection refused" in page
    assert "timeout: read" in page
    assert "30 min" in page
    assert "3 failures" in page
    assert "a later outage" not in page
    assert "ops-hook" in page


def test_the_dependency_page_lists_its_incidents(viewer) -> None:
    row = incident("api", NOV, 12)
    page = viewer.get("/dependencies/api/").content.decode()
    assert f"/incidents/{row.pk}/" in page
    assert "12 min" in page


def test_incidents_need_the_login_like_the_status_page(client) -> None:
    row = incident("api", NOV, 5)
    for url in ("/incidents/", f"/incidents/{row.pk}/"):
        answer = client.get(url)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/accounts/login/")


def test_an_unknown_incident_is_a_404(viewer) -> None:
    assert viewer.get("/incidents/999/").status_code == 404
