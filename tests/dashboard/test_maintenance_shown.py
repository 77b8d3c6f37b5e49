"""A dependency in a maintenance window: /health/* and /metrics still tell its status, and
say it is in maintenance until when; both change when the window starts or ends, without
any recording or sync in between."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from probes.models import MaintenanceWindow, WindowSource
from tests.dashboard.test_health import URL, down, up
from tests.factories import T0

pytestmark = pytest.mark.django_db

OPENS, CLOSES = T0 + timedelta(minutes=10), T0 + timedelta(minutes=70)


@pytest.fixture(autouse=True)
def window() -> None:
    MaintenanceWindow.objects.create(
        name="db-upgrade",
        source=WindowSource.DECLARED,
        match={"group": ["payments"]},
        start=OPENS,
        end=CLOSES,
    )


def gauge(client, name: str) -> str:
    text = client.get("/metrics").content.decode()
    prefix = f'seahealth_dependency_maintenance{{dependency="{name}",kind='
    [line] = [line for line in text.splitlines() if line.startswith(prefix)]
    return line.rsplit(" ", 1)[1]


@pytest.mark.parametrize(
    ("moment", "maintenance", "value"),
    [
        (OPENS - timedelta(seconds=1), None, "0.0"),
        (OPENS, {"name": "db-upgrade", "until": "2026-11-23T11:10:00Z"}, "1.0"),
        (
            CLOSES - timedelta(seconds=1),
            {"name": "db-upgrade", "until": "2026-11-23T11:10:00Z"},
            "1.0",
        ),
        (CLOSES, None, "0.0"),
    ],
)
def test_health_and_metrics_say_it_is_in_maintenance_and_still_tell_its_status(
    client, moment, maintenance, value
) -> None:
    with freeze_time(T0):
        down("payments-db", critical=True, group="payments")
        up("search")
    with freeze_time(moment):
        response = client.get(URL)
        body = response.json()["dependencies"]
        # The truth for the load balancer: down, critical, unhealthy, window or not.
        assert response.status_code == 503
        assert body["payments-db"]["status"] == "down"
        assert body["payments-db"].get("maintenance") == maintenance
        assert "maintenance" not in body["search"]
        assert client.get(f"{URL}/payments-db").json().get("maintenance") == maintenance
        assert gauge(client, "payments-db") == value
        assert gauge(client, "search") == "0.0"


def test_the_health_snapshot_expires_when_a_window_starts_and_ends(client) -> None:
    with freeze_time(T0) as clock:
        up("payments-api", group="payments")
        assert "maintenance" not in client.get(URL).json()["dependencies"]["payments-api"]
        clock.move_to(OPENS)
        assert "maintenance" in client.get(URL).json()["dependencies"]["payments-api"]
        clock.move_to(CLOSES)
        assert "maintenance" not in client.get(URL).json()["dependencies"]["payments-api"]


# A weekly Sunday 02:00 window of an hour, asked through /health at frozen moments around
# the DST weekends: (zone, moment, until or None).
DST_TABLE = [
    # Berlin, 29 March 2026: 02:00 does not exist; the window is 03:00-04:00 CEST.
    ("Europe/Berlin", "2026-03-29T00:59:59Z", None),
    ("Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"),
    ("Europe/Berlin", "2026-03-29T02:00:00Z", None),
    # Berlin, 25 October 2026: the first 02:00 (CEST), an hour of real time.
    ("Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"),
    ("Europe/Berlin", "2026-10-25T01:00:00Z", None),  # 02:00 CET, the second pass: not again
    # New York, 8 March 2026: 02:00 does not exist; 03:00-04:00 EDT.
    ("America/New_York", "2026-03-08T06:59:59Z", None),
    ("America/New_York", "2026-03-08T07:30:00Z", "2026-03-08T08:00:00Z"),
    # New York, 1 November 2026: 02:00 EST, after the repeated hour.
    ("America/New_York", "2026-11-01T06:30:00Z", None),
    ("America/New_York", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"),
]


@pytest.mark.parametrize(("zone", "moment", "until"), DST_TABLE)
def test_a_recurring_window_across_dst_as_health_shows_it(client, zone, moment, until) -> None:
    MaintenanceWindow.objects.create(
        name="weekly-backup",
        source=WindowSource.DECLARED,
        match={"name": ["documents"]},
        rrule="FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0",
        duration=timedelta(hours=1),
        timezone=zone,
    )
    with freeze_time(moment):
        up("documents")
        shown = client.get(f"{URL}/documents").json().get("maintenance")
    assert shown == ({"name": "weekly-backup", "until": until} if until else None)
