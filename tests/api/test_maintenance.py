"""/api/v1/maintenance: windows listed (declared ones read-only), made and ended through the
API, checked as dependencies.yaml's are, audited, and in effect at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from api.models import AuditEntry
from probes import maintenance_reader
from probes.models import MaintenanceWindow
from tests.factories import make_dependency

pytestmark = pytest.mark.django_db


def post(client: Client, body: object):
    return client.post("/api/v1/maintenance", body, content_type="application/json")


@pytest.fixture
def payments():
    make_dependency("pay-api", group="payments")
    make_dependency("search")


def soon(minutes: float) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


def test_a_window_made_through_the_api_silences_its_dependencies_at_once(
    writer: Client, payments
) -> None:
    maintenance_reader.forget()
    answer = post(
        writer,
        {"name": "db-upgrade", "match": {"group": "payments"}, "start": soon(-1), "end": soon(60)},
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["source"] == "api"
    health = writer.get("/health/dependencies").json()["dependencies"]
    assert health["pay-api"]["maintenance"]["name"] == "db-upgrade"
    assert "maintenance" not in health["search"]
    assert AuditEntry.objects.filter(summary="made the maintenance window 'db-upgrade'").exists()


def test_a_recurring_window_and_the_list(writer: Client, reader: Client, payments) -> None:
    schedule = {
        "rrule": "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0",
        "duration": "1h",
        "timezone": "Europe/Berlin",
    }
    assert (
        post(
            writer, {"name": "backup", "match": {"names": ["search"]}, "schedule": schedule}
        ).status_code
        == 201
    )
    [window] = reader.get("/api/v1/maintenance").json()["windows"]
    assert (window["name"], window["match"], window["schedule"]) == (
        "backup",
        {"names": ["search"]},
        schedule,
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {
                "name": "w",
                "match": {"group": "nobody"},
                "start": "2026-12-05T02:00:00Z",
                "end": "2026-12-05T03:00:00Z",
            },
            "match",
            "matches no",
        ),
        (
            {
                "name": "w",
                "match": {"group": "payments"},
                "start": "2026-12-05T03:00:00Z",
                "end": "2026-12-05T02:00:00Z",
            },
            "end",
            "must be after the start",
        ),
        (
            {
                "name": "w",
                "match": {"group": "payments"},
                "schedule": {"rrule": "FREQ=SOMETIMES", "duration": "1h", "timezone": "UTC"},
            },
            "schedule.rrule",
            "",
        ),
        (
            {
                "name": "w",
                "match": {"group": "payments"},
                "schedule": {"rrule": "FREQ=DAILY", "duration": "1h", "timezone": "Mars/Olympus"},
            },
            "schedule.timezone",
            "",
        ),
        (
            {
                "name": "w",
                "match": {"group": "payments"},
                "start": "2026-12-05T02:00:00",
                "end": "2026-12-05T03:00:00Z",
            },
            "start",
            "needs its offset",
        ),
        (
            {
                "name": "Bad Name",
                "match": {"group": "payments"},
                "start": "2026-12-05T02:00:00Z",
                "end": "2026-12-05T03:00:00Z",
            },
            "name",
            "is not a name",
        ),
        (
            {
                "name": "w",
                "match": {"group": "payments"},
                "start": "2026-12-05T02:00:00Z",
                "end": "2026-12-05T03:00:00Z",
                "ends": "x",
            },
            "ends",
            "unknown field",
        ),
    ],
)
def test_a_bad_window_is_a_400_naming_the_field(writer: Client, payments, body, field, message):
    answer = post(writer, body)
    assert answer.status_code == 400, answer.content
    fields = answer.json()["fields"]
    assert any(f["field"] == field and message in f["message"] for f in fields), fields
    assert not MaintenanceWindow.objects.exists()


def test_a_name_in_force_is_a_409_and_ending_it_frees_the_name(writer: Client, payments):
    body = {"name": "w", "match": {"names": ["search"]}, "start": soon(0), "end": soon(30)}
    assert post(writer, body).status_code == 201
    assert post(writer, body).status_code == 409
    assert writer.delete("/api/v1/maintenance/w").status_code == 200
    assert MaintenanceWindow.objects.get().archived_at is not None
    assert post(writer, body).status_code == 201
    assert writer.delete("/api/v1/maintenance/nothing").status_code == 404


def test_a_declared_window_is_read_only_here(writer: Client, payments) -> None:
    MaintenanceWindow.objects.create(
        name="declared-one",
        source="declared",
        match={"group": ["payments"]},
        start=timezone.now(),
        end=timezone.now() + timedelta(hours=1),
    )
    answer = writer.delete("/api/v1/maintenance/declared-one")
    assert answer.status_code == 409
    assert "remove it there" in answer.json()["error"]
