"""/api/v1/dependencies: the state as the pages know it, one dependency in full, and a
probe asked for now."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from api.models import AuditEntry
from probes.models import BreakerTransition, Dependency, Incident
from tests.factories import T0, make_dependency

pytestmark = pytest.mark.django_db

SECRET = "hunter2-do-not-show"


def test_the_list_shows_every_active_dependency_as_the_page_does(reader: Client) -> None:
    make_dependency(
        "payments-api",
        group="payments",
        critical=True,
        status="down",
        status_since=T0,
        breaker_state="open",
        last_checked_at=T0 + timedelta(seconds=5),
        last_latency_ms=41.234,
        last_error="connect: connection refused",
        last_warnings=["slow"],
        uptime_24h=0.5,
        uptime_7d=0.9,
        uptime_30d=0.99,
    )
    make_dependency("mailer")
    make_dependency("gone", archived_at=T0)

    body = reader.get("/api/v1/dependencies").json()

    assert body["dependencies"] == [
        {
            "name": "mailer",
            "kind": "http",
            "group": "",
            "critical": False,
            "status": "unknown",
            "since": None,
            "breaker": "closed",
            "latency_ms": None,
            "last_checked": None,
            "error": None,
            "warnings": [],
            "uptime": {"24h": None, "7d": None, "30d": None},
            "uptime_coverage": {},
            "error_budget_remaining": None,
        },
        {
            "name": "payments-api",
            "kind": "http",
            "group": "payments",
            "critical": True,
            "status": "down",
            "since": "2026-11-23T10:00:00Z",
            "breaker": "open",
            "latency_ms": 41.2,
            "last_checked": "2026-11-23T10:00:05Z",
            "error": "connect: connection refused",
            "warnings": ["slow"],
            "uptime": {"24h": 0.5, "7d": 0.9, "30d": 0.99},
            "uptime_coverage": {},
            "error_budget_remaining": None,
        },
    ]


@pytest.mark.parametrize("count", [1, 30])
def test_the_list_costs_the_same_queries_however_many_dependencies(
    reader: Client, count: int
) -> None:
    for number in range(count):
        make_dependency(f"dep-{number}")
    reader.get("/api/v1/dependencies")  # the token's last use is written once a minute

    with CaptureQueriesContext(connection) as queries:
        response = reader.get("/api/v1/dependencies")

    assert len(response.json()["dependencies"]) == count
    # The token, then the rows.
    assert len(queries) == 2, [q["sql"] for q in queries]


def test_one_dependency_adds_its_redacted_declaration_and_transitions(reader: Client) -> None:
    api = make_dependency(
        "api",
        spec={
            "url": f"https://user:{SECRET}@api.example.com/health?api_key={SECRET}",
            "method": "GET",
            "headers": {"Authorization": f"Bearer {SECRET}", "X-Token": "${API_TOKEN}"},
        },
    )
    for minutes, (before, after) in enumerate([("closed", "open"), ("open", "half_open")]):
        BreakerTransition.objects.create(
            dependency=api,
            at=T0 + timedelta(minutes=minutes),
            from_state=before,
            to_state=after,
            reason=f"step {minutes}",
        )

    response = reader.get("/api/v1/dependencies/api")

    body = response.json()
    assert SECRET not in response.content.decode()
    assert body["name"] == "api"
    assert body["status"] == "unknown"
    assert body["declaration"]["name"] == "api"
    assert body["declaration"]["headers"] == {"Authorization": "***", "X-Token": "${API_TOKEN}"}
    assert body["declaration"]["url"].startswith("https://")
    assert body["transitions"] == [
        {
            "at": "2026-11-23T10:01:00Z",
            "from_state": "open",
            "to_state": "half_open",
            "reason": "step 1",
        },
        {
            "at": "2026-11-23T10:00:00Z",
            "from_state": "closed",
            "to_state": "open",
            "reason": "step 0",
        },
    ]


@pytest.mark.parametrize(
    ("name", "status", "error"),
    [
        ("nothing", 404, "no dependency named 'nothing'"),
        ("gone", 404, "'gone' is archived: no longer declared nor probed"),
        ("API", 400, "bad request: name: "),
        ("-api", 400, "bad request: name: "),
        ("a" * 101, 400, "bad request: name: "),
        ("caf\u00e9", 400, "bad request: name: "),
        ("a%20b", 400, "bad request: name: "),
    ],
)
@pytest.mark.parametrize("route", ["get", "probe"])
def test_a_bad_or_unknown_name_is_a_4xx_with_its_reason(
    writer: Client, name: str, status: int, error: str, route: str
) -> None:
    make_dependency("gone", archived_at=T0)
    if route == "get":
        response = writer.get(f"/api/v1/dependencies/{name}")
    else:
        response = writer.post(
            f"/api/v1/dependencies/{name}/probe", content_type="application/json"
        )

    assert response.status_code == status
    assert response.json()["error"].startswith(error)
    if status == 400:
        assert response.json()["fields"][0] | {"message": ""} == {
            "field": "name",
            "in": "path",
            "message": "",
        }
    assert not AuditEntry.objects.filter(method="POST").exists()


@freeze_time("2026-11-23 10:00:00")
@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (None, "asked for a probe of 'api'"),
        ({}, "asked for a probe of 'api'"),
        ({"reason": "deployed a fix"}, "asked for a probe of 'api': deployed a fix"),
    ],
)
def test_a_probe_makes_it_due_now_and_is_audited(writer: Client, body, summary: str) -> None:
    make_dependency("api", next_due_at=timezone.now() + timedelta(minutes=5))
    data = json.dumps(body) if body is not None else None

    response = writer.post("/api/v1/dependencies/api/probe", data, content_type="application/json")

    assert response.status_code == 202
    assert response.json() == {"name": "api", "due_at": "2026-11-23T10:00:00Z"}
    # Due now: the prober's next claim takes it; nothing was probed on the request.
    assert Dependency.objects.get(name="api").next_due_at == timezone.now()
    assert not Dependency.objects.get(name="api").last_checked_at
    entry = AuditEntry.objects.get(method="POST")
    assert (entry.who, entry.path, entry.summary) == (
        "token writer",
        "/api/v1/dependencies/api/probe",
        summary,
    )


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        ("{", "application/json", "the body is not JSON"),
        ("[1, 2]", "application/json", "bad request: body: "),
        ('"now"', "application/json", "bad request: body: "),
        ('{"reasn": "typo"}', "application/json", "bad request: reasn: "),
        ('{"reason": 5}', "application/json", "bad request: reason: "),
        ('{"reason": null}', "application/json", "bad request: reason: "),
        (json.dumps({"reason": "x" * 201}), "application/json", "bad request: reason: "),
        ("reason=now", "application/x-www-form-urlencoded", "the body is not JSON"),
        ("\xff\xfe", "application/json", "the body is not JSON"),
    ],
)
def test_a_bad_probe_body_is_400_naming_the_field(
    writer: Client, body: str, content_type: str, error: str
) -> None:
    make_dependency("api", next_due_at=T0 + timedelta(days=1))

    response = writer.post("/api/v1/dependencies/api/probe", body, content_type=content_type)

    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    # Nothing happened.
    assert Dependency.objects.get(name="api").next_due_at == T0 + timedelta(days=1)
    assert not AuditEntry.objects.filter(method="POST").exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/dependencies"),
        ("delete", "/api/v1/dependencies/api"),
        ("get", "/api/v1/dependencies/api/probe"),
    ],
)
def test_a_method_a_route_does_not_take_is_405(writer: Client, method: str, path: str) -> None:
    make_dependency("api")

    assert getattr(writer, method)(path).status_code == 405


@pytest.mark.parametrize(
    "reason",
    ["a\u0000b", "\ud800", "tab\tand\nnewline", "\u2603\U0001f600"],
)
def test_a_probe_reason_postgresql_cannot_hold_is_400_not_500(writer: Client, reason: str) -> None:
    make_dependency("api")
    body = json.dumps({"reason": reason})  # \u escapes: the middleware sees no control character

    response = writer.post("/api/v1/dependencies/api/probe", body, content_type="application/json")

    kept = "\t" not in reason and "\x00" not in reason and "\ud800" not in reason
    assert response.status_code == (202 if kept else 400), response.content
    if not kept:
        assert response.json()["error"].startswith("bad request: reason: ")


@pytest.mark.parametrize("history", [0, 80])
def test_one_dependency_costs_four_queries_however_long_its_history(
    reader: Client, history: int
) -> None:
    api = make_dependency("api")
    BreakerTransition.objects.bulk_create(
        BreakerTransition(
            dependency=api, at=T0 + timedelta(seconds=n), from_state="closed", to_state="open"
        )
        for n in range(history)
    )
    Incident.objects.bulk_create(
        Incident(
            dependency=api,
            started_at=T0 + timedelta(hours=n),
            ended_at=T0 + timedelta(hours=n, minutes=5),
        )
        for n in range(history)
    )
    reader.get("/api/v1/dependencies/api")  # the token's last use is written once a minute

    with CaptureQueriesContext(connection) as queries:
        response = reader.get("/api/v1/dependencies/api")

    # The token, the row, its newest transitions (at most 50, as the page shows) and its
    # newest incidents (at most 20).
    assert len(queries) == 4, [q["sql"] for q in queries]
    assert len(response.json()["transitions"]) == min(history, 50)
    assert len(response.json()["incidents"]) == min(history, 20)
