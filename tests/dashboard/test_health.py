from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from tests.factories import T0, make_dependency
from tests.servers import LocalHTTPServer

pytestmark = pytest.mark.django_db

URL = "/health/dependencies"


def checked(seconds: float):
    return T0 - timedelta(seconds=seconds)


def up(name: str, critical: bool = True, **fields):
    values = {"status": "up", "status_since": checked(600), "last_result": "success"}
    values |= {"last_checked_at": checked(9), "last_latency_ms": 41.23, **fields}
    return make_dependency(name, critical=critical, **values)


def down(name: str, critical: bool, **fields):
    values = {
        "status": "down",
        "status_since": checked(1188),
        "breaker_state": "open",
        "last_result": "failure",
        "last_checked_at": checked(2),
        "last_error": "connect: connection refused",
        "kind": "smtp",
    }
    return make_dependency(name, critical=critical, **(values | fields))


@freeze_time(T0)
def test_the_json_of_design_md(client) -> None:
    up("payments-api")
    down("mailer", critical=False)
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "status": "degraded",
        "checked_at": "2026-11-23T10:00:00Z",
        "dependencies": {
            "mailer": {
                "status": "down",
                "critical": False,
                "kind": "smtp",
                "breaker": "open",
                "latency_ms": None,
                "last_checked": "2026-11-23T09:59:58Z",
                "error": "connect: connection refused",
                "since": "2026-11-23T09:40:12Z",
            },
            "payments-api": {
                "status": "up",
                "critical": True,
                "kind": "http",
                "breaker": "closed",
                "latency_ms": 41.2,
                "last_checked": "2026-11-23T09:59:51Z",
                "error": None,
            },
        },
    }


@pytest.mark.parametrize(
    ("make", "code", "status"),
    [
        (lambda: up("a"), 200, "healthy"),
        (lambda: down("a", critical=True), 503, "unhealthy"),
        (lambda: down("a", critical=False), 200, "degraded"),
        (lambda: up("a", status="degraded", last_warnings=["slow"]), 200, "degraded"),
        (lambda: make_dependency("a", critical=True), 200, "healthy"),  # not probed yet
        (lambda: None, 200, "healthy"),  # nothing declared
    ],
)
def test_status_codes(client, make, code, status) -> None:
    make()
    response = client.get(URL)
    assert (response.status_code, response.json()["status"]) == (code, status)


def test_a_never_probed_dependency_is_unknown(client) -> None:
    make_dependency("new")
    body = client.get(URL).json()["dependencies"]["new"]
    assert (body["status"], body["last_checked"], body["latency_ms"]) == ("unknown", None, None)


def test_warnings_are_shown_for_a_degraded_dependency(client) -> None:
    up("rpc", status="degraded", last_warnings=["block 120 s old (max 60 s)"])
    body = client.get(URL).json()["dependencies"]["rpc"]
    assert body["warnings"] == ["block 120 s old (max 60 s)"]
    assert body["error"] is None


def test_archived_dependencies_are_not_reported(client) -> None:
    down("old", critical=True, archived_at=T0)
    assert client.get(URL).json() == {
        "status": "healthy",
        "checked_at": client.get(URL).json()["checked_at"],
        "dependencies": {},
    }


def test_answers_from_one_query_whatever_the_number_of_dependencies(client) -> None:
    def queries_with(count: int, offset: int) -> int:
        for n in range(count):
            up(f"dep-{offset + n}")
        with CaptureQueriesContext(connection) as captured:
            client.get(URL)
        return len(captured)

    assert queries_with(3, 0) == 1
    assert queries_with(200, 100) == 1


def test_never_probes_on_a_request(client) -> None:
    server = LocalHTTPServer().start()
    try:
        up("api", spec={"url": server.url(), "method": "GET", "headers": {}})
        for _ in range(5):
            client.get(URL)
        assert server.requests == []
    finally:
        server.stop()


@pytest.mark.parametrize("path", [URL, "/health/live", "/health/ready"])
def test_get_and_head_are_allowed_and_nothing_else(client, path) -> None:
    up("api", last_checked_at=timezone.now())
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 405
    assert client.delete(path).status_code == 405


def test_live_answers_while_the_process_runs(client) -> None:
    response = client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "pass"})


class TestReady:
    def test_ready_when_the_prober_recorded_recently(self, client) -> None:
        up("api", last_checked_at=timezone.now() - timedelta(seconds=20))
        response = client.get("/health/ready")
        assert (response.status_code, response.json()["status"]) == (200, "pass")

    def test_not_ready_when_the_prober_has_gone_quiet(self, client) -> None:
        up("api", last_checked_at=timezone.now() - timedelta(minutes=10))
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["status"] == "fail"
        assert "the prober has recorded nothing since" in response.json()["reason"]

    def test_not_ready_before_a_first_probe(self, client) -> None:
        make_dependency("api")
        assert client.get("/health/ready").status_code == 503


def test_a_503_answer_is_not_logged_as_a_server_error(client, caplog) -> None:
    down("payments", critical=True)
    with caplog.at_level("WARNING"):
        assert client.get(URL).status_code == 503
    assert [r for r in caplog.records if r.name == "django.request"] == []
