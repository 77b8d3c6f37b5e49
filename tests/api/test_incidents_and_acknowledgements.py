"""/api/v1/incidents and POST /api/v1/dependencies/<name>/acknowledge: what they answer and
what they change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from api.models import AuditEntry
from probes.models import Acknowledgement, Dependency, Incident
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db


def incident(name: str, hours: float, minutes: float | None, group: str = "") -> Incident:
    row = make_dependency(name, group=group, status="down" if minutes is None else "up")
    start = T0 + timedelta(hours=hours)
    return Incident.objects.create(
        dependency=row,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes) if minutes is not None else None,
        first_error="connect: refused",
        last_error="timeout",
    )


def test_incidents_come_open_first_with_their_duration(reader: Client) -> None:
    incident("old", 0, 5)
    incident("open-one", -100, None)
    incident("newer", 10, 30)
    answer = reader.get("/api/v1/incidents").json()["incidents"]
    assert [(i["dependency"], i["duration_seconds"]) for i in answer] == [
        ("open-one", None),
        ("newer", 1800.0),
        ("old", 300.0),
    ]


def test_incidents_are_filtered_by_group_month_and_limit(reader: Client) -> None:
    incident("pay", 0, 5, group="payments")
    incident("other", 1, 5)
    incident("pay-old", -24 * 40, 5, group="payments")
    month = f"{T0:%Y-%m}"
    answer = reader.get(f"/api/v1/incidents?group=payments&month={month}").json()
    assert [i["dependency"] for i in answer["incidents"]] == ["pay"]
    assert len(reader.get("/api/v1/incidents?limit=1").json()["incidents"]) == 1


def test_a_token_acknowledges_an_outage_and_the_audit_log_says_which(
    writer: Client, api_tokens
) -> None:
    row = make_dependency("api", status="down", status_since=T0)
    Incident.objects.create(dependency=row, started_at=T0)
    answer = writer.post(
        "/api/v1/dependencies/api/acknowledge",
        {"note": "paging the DBA"},
        content_type="application/json",
    )
    assert answer.status_code == 200
    by = answer.json()["acknowledged_by"]
    assert by.startswith("token ")
    assert Dependency.objects.get(name="api").acknowledged_by == by
    assert Acknowledgement.objects.get().note == "paging the DBA"
    # The fixture's token revocation is audited too: the newest entry is this one.
    assert AuditEntry.objects.first().summary == "acknowledged 'api': paging the DBA"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"note": "x" * 501}, "note"),
        ({"note": "two\nlines"}, "note"),
        ({"notes": "typo"}, "notes"),
    ],
)
def test_a_bad_acknowledgement_is_a_400_naming_the_field(writer: Client, body, reason) -> None:
    make_dependency("api", status="down", status_since=T0)
    answer = writer.post(
        "/api/v1/dependencies/api/acknowledge", body, content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["fields"][0]["field"] == reason
    assert not Acknowledgement.objects.exists()
