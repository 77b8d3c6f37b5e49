"""Acknowledging an outage from its page: who may, what it changes (the row, its incident,
the health JSON, the audit log, reminders and the notification stream), and every refusal."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from api.models import AuditEntry
from notifications.models import Delivery, Message
from notifications.outbox import schedule_reminders
from notifications.sender import send_due
from probes.models import Acknowledgement, Dependency, Incident
from probes.outcomes import Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.notifications.test_sender import declare, goes_down
from tests.servers import LocalHTTPServer, Route

pytestmark = pytest.mark.django_db


@pytest.fixture
def responder(client, django_user_model) -> Client:
    user = django_user_model.objects.create_user("ops")
    user.user_permissions.add(Permission.objects.get(codename="acknowledge_dependency"))
    client.force_login(user)
    return client


@pytest.fixture
def onlooker(client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_user("viewer"))
    return client


@pytest.fixture
def told(http_server: LocalHTTPServer, monkeypatch) -> LocalHTTPServer:
    """A dependency `api` down, its outage sent to a webhook receiver."""
    monkeypatch.setenv("HOOK_SECRET", "ack-test-secret")
    http_server.routes["/hook"] = Route(200)
    declare(http_server.url("/hook"), repeat_every=3600.0)
    goes_down()
    assert send_due() == {"sent": 1}
    return http_server


def bodies(server: LocalHTTPServer) -> list[dict]:
    return [json.loads(request.body) for request in server.received]


def test_a_responder_acknowledges_an_outage_with_a_note(responder, told) -> None:
    answer = responder.post("/dependencies/api/acknowledge", {"note": "on it, DB failover"})

    assert (answer.status_code, answer["Location"]) == (302, "/dependencies/api/")
    row = Dependency.objects.get(name="api")
    assert row.acknowledged_by == "ops"
    ack = Acknowledgement.objects.get()
    assert (ack.by, ack.note, ack.incident) == ("ops", "on it, DB failover", Incident.objects.get())
    assert AuditEntry.objects.get().summary == "acknowledged api: on it, DB failover"
    page = responder.get("/dependencies/api/").content.decode()
    assert "Acknowledged by <strong>ops</strong>" in page
    assert "on it, DB failover" in page
    health = responder.get("/health/dependencies").json()["dependencies"]["api"]
    assert health["acknowledged_by"] == "ops"


def test_the_channels_told_of_the_outage_are_told_who_is_on_it(responder, told) -> None:
    responder.post("/dependencies/api/acknowledge", {"note": "on it"})
    assert send_due() == {"sent": 1}
    down, acknowledged = bodies(told)
    assert (down["type"], acknowledged["type"]) == (
        "seahealth.status_changed",
        "seahealth.acknowledged",
    )
    [event] = acknowledged["events"]
    assert (event["dependency"], event["status"], event["acknowledged_by"], event["note"]) == (
        "api",
        "down",
        "ops",
        "on it",
    )


def test_reminders_stop_once_acknowledged_and_it_clears_when_back_up(responder, told) -> None:
    responder.post("/dependencies/api/acknowledge")
    later = timezone.now() + timedelta(hours=2)
    assert schedule_reminders(later) == 0

    row = Dependency.objects.get(name="api")
    record([(job_for(row), Outcome(latency_ms=2.0, checked_at=later))])
    row.refresh_from_db()
    assert (row.status, row.acknowledged_by, row.acknowledged_at) == ("up", "", None)
    assert Incident.objects.get().ended_at == later


def test_without_the_permission_there_is_no_button_and_a_post_is_403(onlooker, told) -> None:
    assert "Acknowledge" not in onlooker.get("/dependencies/api/").content.decode()
    answer = onlooker.post("/dependencies/api/acknowledge", {"note": "x"})
    assert answer.status_code == 403
    assert not Acknowledgement.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(django_user_model, told) -> None:
    client = Client(enforce_csrf_checks=True)
    user = django_user_model.objects.create_user("ops")
    user.user_permissions.add(Permission.objects.get(codename="acknowledge_dependency"))
    client.force_login(user)
    assert client.post("/dependencies/api/acknowledge").status_code == 403
    assert not Acknowledgement.objects.exists()


def test_a_post_needs_a_login(client, told) -> None:
    answer = client.post("/dependencies/api/acknowledge")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("path", "data", "status", "reason"),
    [
        ("/dependencies/nothing/acknowledge", {}, 404, ""),
        ("/dependencies/api/acknowledge", {"note": "x" * 501}, 400, "note"),
    ],
)
def test_bad_acknowledgements_are_refused_with_a_reason(
    responder, told, path, data, status, reason
):
    answer = responder.post(path, data)
    assert answer.status_code == status
    assert reason in answer.content.decode()
    assert not Acknowledgement.objects.exists()


def test_only_an_outage_can_be_acknowledged(responder, told) -> None:
    row = Dependency.objects.get(name="api")
    with freeze_time(timezone.now() + timedelta(minutes=5)):
        record([(job_for(row), Outcome(latency_ms=2.0, checked_at=timezone.now()))])
    answer = responder.post("/dependencies/api/acknowledge")
    assert answer.status_code == 409
    assert "api is up, not down" in answer.content.decode()
    assert "Acknowledge" not in responder.get("/dependencies/api/").content.decode()


def test_an_acknowledgement_after_the_outage_was_told_goes_only_where_it_was_told(
    responder, told
) -> None:
    responder.post("/dependencies/api/acknowledge")
    assert Delivery.objects.filter(event__type="seahealth.acknowledged").count() == 1
    send_due()
    assert Message.objects.filter(type="seahealth.acknowledged", state="sent").count() == 1
