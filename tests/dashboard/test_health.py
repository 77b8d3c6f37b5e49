from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from probes.declarations import parse_declaration
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from probes.sync import sync
from tests.factories import T0, make_dependency
from tests.servers import LocalHTTPServer

pytestmark = pytest.mark.django_db

URL = "/health/dependencies"
HEALTH = "application/health+json"


def checked(seconds: float):
    return T0 - timedelta(seconds=seconds)


def up(name: str, critical: bool = True, **fields):
    values = {"status": "up", "status_since": checked(600), "last_result": "success"}
    values |= {"last_checked_at": checked(9), "last_latency_ms": 41.23, **fields}
    # As a prober that keeps up leaves it: due again one interval after its last check.
    interval = values.get("interval", timedelta(seconds=30))
    values.setdefault("next_due_at", values["last_checked_at"] + interval)
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


class TestOneQuery:
    """Each process keeps the state it read until recording or sync changes it; it asks
    whether they did on every request here, at most every 0.1 s by default."""

    @pytest.fixture(autouse=True)
    def _ask_every_time(self, settings) -> None:
        settings.SEAHEALTH_HEALTH_RECHECK_SECONDS = 0

    def queries(self, client, path: str = URL, **headers) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path, **headers).status_code in {200, 503}
        return len(captured)

    def test_one_query_whatever_the_number_of_dependencies(self, client) -> None:
        for count in (3, 200):
            for n in range(count):
                up(f"dep-{count}-{n}")
            # The token moved: the rows are read again, and the maintenance windows.
            assert self.queries(client) == 3
            assert [self.queries(client) for _ in range(3)] == [1, 1, 1]

    @pytest.mark.parametrize("path", [URL, f"{URL}?critical=1", f"{URL}/payments", "/health/ready"])
    def test_every_health_endpoint_answers_from_one_query(self, client, path) -> None:
        up("payments")
        self.queries(client, path)
        assert self.queries(client, path) == self.queries(client, path, HTTP_ACCEPT=HEALTH) == 1

    def test_a_recording_shows_at_the_next_request(self, client) -> None:
        api = up("payments", failure_threshold=1)
        assert client.get(URL).json()["dependencies"]["payments"]["status"] == "up"
        failure = Outcome(
            error_class=ErrorClass.CONNECT, detail="connection refused", checked_at=T0
        )
        record([(job_for(api), failure)])
        response = client.get(URL)
        assert (response.status_code, response.json()["status"]) == (503, "unhealthy")
        assert client.get(f"{URL}/payments", HTTP_ACCEPT=HEALTH).json()["status"] == "fail"

    def test_a_sync_shows_at_the_next_request(self, client) -> None:
        up("payments")
        up("mailer", critical=False)
        assert set(client.get(URL).json()["dependencies"]) == {"payments", "mailer"}
        text = "dependencies:\n  - {name: mailer, kind: smtp, host: 127.0.0.1, port: 9}\n"
        sync(parse_declaration(text, "dependencies.yaml"))
        assert set(client.get(URL).json()["dependencies"]) == {"mailer"}
        assert client.get(f"{URL}/payments").status_code == 404

    def test_a_database_that_fails_is_a_503_and_its_reason_goes_to_the_log_once(
        self, client, caplog
    ) -> None:
        up("payments")
        client.get(URL)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE probes_stateversion")
        with caplog.at_level(logging.ERROR, logger="dashboard.database_failures"):
            for path in (URL, f"{URL}/payments", "/health/ready", URL):
                # Rolled back after each: on PostgreSQL the failed query would otherwise
                # fail every later one with another text ("current transaction is aborted").
                with transaction.atomic():
                    response = client.get(path)
                    transaction.set_rollback(True)
                assert response.status_code == 503
                # The driver's text names the host, port, database (here the table): not
                # for whoever asks.
                assert response.json() == {"status": "fail", "error": "database unavailable"}
        [logged] = caplog.records
        assert logged.getMessage().startswith("database unavailable: ")
        assert "probes_stateversion" in logged.getMessage()


def test_within_the_recheck_interval_no_query_then_one(client) -> None:
    with freeze_time(T0) as clock:
        api = up("payments", failure_threshold=1)
        assert client.get(URL).status_code == 200
        failure = Outcome(error_class=ErrorClass.CONNECT, detail="refused", checked_at=T0)
        record([(job_for(api), failure)])
        clock.tick(0.05)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200  # its copy: 0.05 s old
        assert len(captured) == 0
        clock.tick(0.06)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 503
        assert len(captured) == 3  # the token moved: the rows and the windows again
        clock.tick(0.2)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 503
        assert len(captured) == 1  # the token did not move


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
        assert "the prober has recorded nothing since" in response.json()["output"]

    def test_not_ready_before_a_first_probe(self, client) -> None:
        make_dependency("api")
        assert client.get("/health/ready").status_code == 503


@freeze_time(T0)
class TestReadyWhileBehind:
    """Three of the 30 s interval and 5 s: /health/ready's max age, and its max lag unless set."""

    def rows(self, *overdue_seconds: float) -> None:
        up("api", last_checked_at=checked(5))  # the prober records: not stopped
        for n, seconds in enumerate(overdue_seconds):
            make_dependency(f"waiting-{n}", next_due_at=checked(seconds))

    def test_not_ready_when_a_dependency_waits_longer_than_the_max_lag(self, client) -> None:
        self.rows(120, 60)
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json() == {
            "status": "fail",
            "output": "the prober is behind: 2 dependencies overdue, the oldest by 2 min "
            "(max lag 0:01:35)",
        }

    def test_ready_while_the_backlog_is_younger_than_the_max_lag(self, client) -> None:
        self.rows(90, 60)
        assert client.get("/health/ready").status_code == 200

    def test_the_max_lag_can_be_set(self, client, settings) -> None:
        self.rows(60)
        settings.SEAHEALTH_READY_MAX_LAG = timedelta(seconds=45)
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["output"].endswith("overdue, the oldest by 1 min (max lag 0:00:45)")

    def test_the_lag_is_measured_afresh_on_the_rows_kept(self, client, settings) -> None:
        settings.SEAHEALTH_READY_MAX_AGE = timedelta(hours=1)
        settings.SEAHEALTH_READY_MAX_LAG = timedelta(seconds=90)
        self.rows(60)
        assert client.get("/health/ready").status_code == 200
        with freeze_time(T0 + timedelta(seconds=40)), CaptureQueriesContext(connection) as captured:
            response = client.get("/health/ready")
        assert response.status_code == 503
        # api, due 25 s after the snapshot was read, is now late too.
        assert "2 dependencies overdue, the oldest by 1 min" in response.json()["output"]
        assert len(captured) == 1  # whether the state moved: it did not, the rows are kept

    def test_an_open_breaker_waiting_for_its_trial_is_not_behind(self, client) -> None:
        self.rows()
        down("mailer", critical=False, next_due_at=T0 + timedelta(seconds=50))
        assert client.get("/health/ready").status_code == 200


def test_a_503_answer_is_not_logged_as_a_server_error(client, caplog) -> None:
    down("payments", critical=True)
    with caplog.at_level("WARNING"):
        assert client.get(URL).status_code == 503
    assert [r for r in caplog.records if r.name == "django.request"] == []


class TestHealthJson:
    """Accept: application/health+json gets the IETF draft's format, same status codes."""

    ACCEPT = {"HTTP_ACCEPT": "application/health+json"}

    @freeze_time(T0)
    def test_the_draft_format(self, client) -> None:
        up("payments-api")
        down("documents", critical=False, kind="s3")
        make_dependency("new")
        response = client.get(URL, **self.ACCEPT)
        assert (response.status_code, response["Content-Type"]) == (200, "application/health+json")
        assert response["Cache-Control"] == "no-store"
        assert response.json() == {
            "status": "warn",
            "description": "dependencies of this service: degraded",
            "checks": {
                "documents:responseTime": [
                    {
                        "componentId": "documents",
                        "componentType": "datastore",
                        "observedValue": None,
                        "observedUnit": "ms",
                        "status": "fail",
                        "time": "2026-11-23T09:59:58Z",
                        "output": "connect: connection refused",
                    }
                ],
                "new:responseTime": [
                    {
                        "componentId": "new",
                        "componentType": "component",
                        "observedValue": None,
                        "observedUnit": "ms",
                        "status": "warn",
                        "time": None,
                        "output": "not probed yet",
                    }
                ],
                "payments-api:responseTime": [
                    {
                        "componentId": "payments-api",
                        "componentType": "component",
                        "observedValue": 41.2,
                        "observedUnit": "ms",
                        "status": "pass",
                        "time": "2026-11-23T09:59:51Z",
                        "output": "",
                    }
                ],
            },
        }

    def test_unhealthy_is_fail_and_503(self, client) -> None:
        down("payments-api", critical=True)
        response = client.get(URL, **self.ACCEPT)
        assert (response.status_code, response.json()["status"]) == (503, "fail")

    def test_plain_json_by_default(self, client) -> None:
        up("api")
        response = client.get(URL, HTTP_ACCEPT="application/json")
        assert response["Content-Type"] == "application/json"
        assert "dependencies" in response.json()


class TestOneDependency:
    @freeze_time(T0)
    def test_answers_for_one(self, client) -> None:
        up("payments-api")
        response = client.get(f"{URL}/payments-api")
        assert response.status_code == 200
        assert response.json() == {
            "name": "payments-api",
            "checked_at": "2026-11-23T10:00:00Z",
            "status": "up",
            "critical": True,
            "kind": "http",
            "breaker": "closed",
            "latency_ms": 41.2,
            "last_checked": "2026-11-23T09:59:51Z",
            "error": None,
        }

    @pytest.mark.parametrize(("critical", "code"), [(False, 503), (True, 503)])
    def test_503_while_it_is_down_critical_or_not(self, client, critical, code) -> None:
        down("mailer", critical=critical)
        assert client.get(f"{URL}/mailer").status_code == code

    def test_degraded_is_still_200(self, client) -> None:
        up("search", status="degraded", last_warnings=["slow"])
        assert client.get(f"{URL}/search").status_code == 200

    def test_the_draft_format_for_one(self, client) -> None:
        down("mailer", critical=False)
        response = client.get(f"{URL}/mailer", HTTP_ACCEPT="application/health+json")
        assert response.status_code == 503
        assert response.json()["status"] == "fail"
        assert list(response.json()["checks"]) == ["mailer:responseTime"]

    @pytest.mark.parametrize(
        ("make", "reason"),
        [
            (lambda: None, "no dependency named 'nope'"),
            (
                lambda: up("nope", archived_at=T0),
                "'nope' is archived: no longer declared nor probed",
            ),
        ],
    )
    def test_an_unknown_or_archived_name_is_a_404_in_json(self, client, make, reason) -> None:
        make()
        response = client.get(f"{URL}/nope")
        assert (response.status_code, response["Content-Type"]) == (404, "application/json")
        assert response.json() == {"status": "error", "error": reason}


class TestCriticalOnly:
    def test_only_critical_dependencies_are_answered(self, client) -> None:
        up("payments-api", critical=True)
        down("mailer", critical=False)
        everything = client.get(URL).json()
        critical = client.get(f"{URL}?critical=1").json()
        assert (everything["status"], sorted(everything["dependencies"])) == (
            "degraded",
            ["mailer", "payments-api"],
        )
        assert (critical["status"], list(critical["dependencies"])) == ("healthy", ["payments-api"])

    @pytest.mark.parametrize("value", ["yes", "2", ""])
    def test_a_bad_value_is_a_400_with_its_reason(self, client, value) -> None:
        response = client.get(f"{URL}?critical={value}")
        assert response.status_code == 400
        assert response.json() == {
            "status": "error",
            "error": "critical must be 1, true, 0 or false",
        }


def test_ready_max_age_can_be_set(client, settings) -> None:
    up("api", last_checked_at=timezone.now() - timedelta(seconds=40), interval=timedelta(hours=1))
    assert client.get("/health/ready").status_code == 200  # 3 hourly intervals
    settings.SEAHEALTH_READY_MAX_AGE = timedelta(seconds=30)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert "(max age 0:00:30)" in response.json()["output"]


class TestStale:
    """With the prober silent past SEAHEALTH_READY_MAX_AGE, /health/dependencies says its
    states are old, and how old; the status code still follows the states."""

    def test_states_older_than_the_max_age_are_stale_with_their_age(self, client, settings):
        settings.SEAHEALTH_READY_MAX_AGE = timedelta(minutes=2)
        up("api", last_checked_at=T0)
        make_dependency("db", status="down", critical=True, last_checked_at=T0)
        with freeze_time(T0 + timedelta(minutes=3, seconds=5)):
            response = client.get(URL)
        assert response.status_code == 503  # db is down: unchanged by staleness
        body = response.json()
        assert body["stale"] is True
        assert body["stale_seconds"] == 185
        assert set(body["dependencies"]) == {"api", "db"}

    def test_not_stale_while_the_prober_records(self, client, settings):
        settings.SEAHEALTH_READY_MAX_AGE = timedelta(minutes=2)
        up("api", last_checked_at=T0)
        with freeze_time(T0 + timedelta(minutes=1)):
            body = client.get(URL).json()
        assert "stale" not in body
        assert "stale_seconds" not in body

    def test_the_default_max_age_follows_the_shortest_interval(self, client):
        up("api", last_checked_at=T0, interval=timedelta(seconds=10))
        with freeze_time(T0 + timedelta(seconds=34)):
            assert "stale" not in client.get(URL).json()  # 3 intervals and 5 s: 35 s
        with freeze_time(T0 + timedelta(seconds=36)):
            assert client.get(URL).json()["stale_seconds"] == 36

    def test_nothing_recorded_yet_is_not_stale(self, client, settings):
        settings.SEAHEALTH_READY_MAX_AGE = timedelta(seconds=1)
        make_dependency("api")
        assert "stale" not in client.get(URL).json()
