from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families

from probes import error_budgets
from probes.declaration_watcher import DeclarationWatcher
from probes.declarations import parse_declaration
from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from probes.slo import Slo
from probes.sync import sync
from tests.factories import T0, make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

KEY = "9aa3d95b3bc440fa88ea12eaa4456161"


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def probe(row: Dependency, outcome: Outcome, seconds: int) -> Dependency:
    moment = datetime(2026, 11, 23, 10, 0, tzinfo=UTC) + timedelta(seconds=seconds)
    record([(job_for(row), Outcome(**{**outcome.__dict__, "checked_at": moment}))])
    return Dependency.objects.get(pk=row.pk)


OK = Outcome(latency_ms=42.0)
REFUSED = Outcome(error_class=ErrorClass.CONNECT, detail="connection refused")
SLOW = Outcome(latency_ms=1800.0, warnings=("slow",))


def test_current_state_as_gauges(client) -> None:
    up = probe(make_dependency("api", critical=True), OK, 0)
    down = make_dependency("mailer", kind="smtp", failure_threshold=1)
    probe(down, REFUSED, 0)
    probe(make_dependency("search"), SLOW, 0)
    make_dependency("new")
    samples = scrape(client)
    assert (
        value(samples, "seahealth_dependency_up", dependency="api", kind="http", critical="true")
        == 1
    )
    assert (
        value(
            samples, "seahealth_dependency_up", dependency="search", kind="http", critical="false"
        )
        == 1
    )
    assert (
        value(
            samples, "seahealth_dependency_up", dependency="mailer", kind="smtp", critical="false"
        )
        == 0
    )
    assert not [
        key
        for key in samples
        if key[0] == "seahealth_dependency_up" and ("dependency", "new") in key[1]
    ]
    for status in ("up", "degraded", "down", "unknown"):
        expected = 1 if status == "down" else 0
        assert (
            value(
                samples,
                "seahealth_dependency_status",
                dependency="mailer",
                kind="smtp",
                status=status,
            )
            == expected
        )
    for state in ("closed", "open", "half_open"):
        expected = 1 if state == "open" else 0
        assert (
            value(
                samples,
                "seahealth_circuit_breaker_state",
                dependency="mailer",
                kind="smtp",
                state=state,
            )
            == expected
        )
    assert value(samples, "seahealth_probe_latency_seconds", dependency="api", kind="http") == 0.042
    assert value(samples, "seahealth_service_status", status="degraded") == 1
    assert value(samples, "seahealth_service_status", status="unhealthy") == 0
    assert (
        value(samples, "seahealth_last_probe_timestamp_seconds") == up.last_checked_at.timestamp()
    )


def test_counters_only_grow_with_each_probe(client) -> None:
    row = make_dependency("api", failure_threshold=2, recovery_timeout=timedelta(seconds=5))
    for seconds, outcome in enumerate([OK, REFUSED, REFUSED, OK]):
        row = probe(row, outcome, seconds * 10)
    samples = scrape(client)
    labels = {"dependency": "api", "kind": "http"}
    assert value(samples, "seahealth_probes_total", **labels, outcome="success") == 2
    assert value(samples, "seahealth_probes_total", **labels, outcome="failure") == 2
    assert value(samples, "seahealth_probes_total", **labels, outcome="degraded") == 0
    assert value(samples, "seahealth_probe_errors_total", **labels, error_class="connect") == 2
    transitions = "seahealth_circuit_breaker_transitions_total"
    assert value(samples, transitions, **labels, from_state="closed", to_state="open") == 1
    assert value(samples, transitions, **labels, from_state="open", to_state="half_open") == 1
    assert value(samples, transitions, **labels, from_state="half_open", to_state="closed") == 1
    histogram = "seahealth_probe_duration_seconds"
    assert value(samples, f"{histogram}_bucket", **labels, le="0.025") == 0
    assert value(samples, f"{histogram}_bucket", **labels, le="0.05") == 2
    assert value(samples, f"{histogram}_bucket", **labels, le="+Inf") == 2
    assert value(samples, f"{histogram}_count", **labels) == 2
    assert value(samples, f"{histogram}_sum", **labels) == pytest.approx(0.084)


def test_certificates_blocks_and_uptime(client) -> None:
    make_dependency(
        "node",
        kind="rpc",
        status="up",
        last_observations={
            "chain_id": 1,
            "block_number": 21000000,
            "block_age_seconds": 12.5,
            "tls_cert_not_after": "2027-01-31T12:00:00Z",
        },
        uptime_24h=0.999,
        uptime_7d=0.99,
        uptime_30d=None,
    )
    samples = scrape(client)
    assert value(samples, "seahealth_rpc_block_number", dependency="node") == 21000000
    assert value(samples, "seahealth_rpc_block_age_seconds", dependency="node") == 12.5
    expiry = datetime(2027, 1, 31, 12, tzinfo=UTC).timestamp()
    assert (
        value(samples, "seahealth_tls_cert_expiry_timestamp_seconds", dependency="node", kind="rpc")
        == expiry
    )
    uptime = "seahealth_dependency_uptime_ratio"
    assert value(samples, uptime, dependency="node", kind="rpc", window="1d") == 0.999
    assert value(samples, uptime, dependency="node", kind="rpc", window="7d") == 0.99
    assert value(samples, uptime, dependency="node", kind="rpc", window="30d") is None


def test_no_url_secret_or_error_text_in_any_label(client) -> None:
    row = make_dependency(
        "infura",
        kind="rpc",
        spec={"url": f"https://mainnet.infura.io/v3/{KEY}", "headers": {}},
        failure_threshold=1,
    )
    probe(row, Outcome(error_class=ErrorClass.AUTH, detail=f"HTTP 401 for {KEY}"), 0)
    text = client.get("/metrics").content.decode()
    assert KEY not in text
    assert "infura.io" not in text
    assert "HTTP 401" not in text
    label_names = {
        name
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for name in sample.labels
    }
    assert label_names <= {
        "dependency",
        "kind",
        "critical",
        "status",
        "state",
        "outcome",
        "error_class",
        "from_state",
        "to_state",
        "window",
        "le",
    }


@freeze_time(T0)
def test_the_probers_backlog_and_how_late_the_oldest_is(client, settings) -> None:
    settings.SEAHEALTH_TICK_SECONDS = 1.0  # the grace: 2 s
    make_dependency("late", next_due_at=T0 - timedelta(seconds=90.25))
    make_dependency("later", next_due_at=T0 - timedelta(seconds=30))
    make_dependency("on-time", next_due_at=T0 - timedelta(seconds=1))  # the next tick's
    make_dependency("gone", archived_at=T0, next_due_at=T0 - timedelta(hours=1))
    text = client.get("/metrics").content.decode()
    assert "# TYPE seahealth_probe_backlog gauge\nseahealth_probe_backlog 2.0\n" in text
    assert (
        "# TYPE seahealth_probe_schedule_lag_seconds gauge\n"
        "seahealth_probe_schedule_lag_seconds 90.25\n"
    ) in text
    assert "# HELP seahealth_probe_backlog Dependencies due for longer than" in text


def test_a_prober_that_keeps_up_has_no_backlog(client) -> None:
    make_dependency("api", next_due_at=timezone.now() + timedelta(seconds=30))
    samples = scrape(client)
    assert value(samples, "seahealth_probe_backlog") == 0
    assert value(samples, "seahealth_probe_schedule_lag_seconds") == 0


def test_archived_dependencies_are_not_exported(client) -> None:
    make_dependency("old", archived_at=timezone.now())
    assert not [key for key in scrape(client) if ("dependency", "old") in key[1]]


def test_answers_from_eight_queries_whatever_the_number_of_dependencies(client) -> None:
    def queries_with(count: int) -> int:
        for n in range(count):
            probe(make_dependency(f"dep-{count}-{n}"), OK, n)
        with CaptureQueriesContext(connection) as captured:
            client.get("/metrics")
        return len(captured)

    # The rows, the statuses and newest probe grouped, the backlog, the maintenance
    # windows and the declaration's state; the notifications' channels, deliveries and
    # messages (tests/notifications/test_metrics.py).
    assert queries_with(10) == queries_with(200) == 8


def test_the_declaration_state_is_absent_before_the_prober_read_the_file(client) -> None:
    samples = scrape(client)
    assert ("seahealth_declaration_valid", ()) not in samples
    assert ("seahealth_declaration_last_sync_timestamp_seconds", ()) not in samples


def test_the_declaration_is_valid_until_a_refused_file_and_keeps_its_last_sync(
    client, tmp_path
) -> None:
    path = tmp_path / "dependencies.yaml"
    path.write_text("dependencies:\n  - {name: api, kind: http, url: 'http://127.0.0.1:9/'}\n")
    watcher = DeclarationWatcher(path)
    with freeze_time(T0):
        watcher.sync_if_changed()
    assert value(scrape(client), "seahealth_declaration_valid") == 1
    synced = value(scrape(client), "seahealth_declaration_last_sync_timestamp_seconds")
    assert synced == T0.timestamp()

    path.write_text("dependencies:\n  - {name: api, kind: htp, url: 'http://127.0.0.1:9/'}\n")
    with freeze_time(T0 + timedelta(minutes=5)):
        watcher.sync_if_changed()

    samples = scrape(client)
    assert value(samples, "seahealth_declaration_valid") == 0
    assert value(samples, "seahealth_declaration_last_sync_timestamp_seconds") == synced


def _recorded_rows() -> None:
    api = make_dependency("api", critical=True, failure_threshold=1)
    for seconds, outcome in enumerate([OK, REFUSED, SLOW, OK]):
        api = probe(api, outcome, seconds)
    probe(make_dependency("mailer", kind="smtp", failure_threshold=1), REFUSED, 0)
    node = make_dependency("node", kind="rpc")
    probe(
        node, Outcome(latency_ms=8.0, observations={"block_number": 7, "block_age_seconds": 3.5}), 0
    )
    make_dependency("new")


@freeze_time(T0)  # one moment for both scrapes: the schedule lag is measured at each
def test_rows_without_stored_samples_are_rendered_alike(client) -> None:
    """Declared since, changed by sync or stored by an older release: rendered at scrape."""
    _recorded_rows()
    stored = client.get("/metrics").content.decode()
    Dependency.objects.filter(name__in=["api", "node"]).update(metrics_text="")
    Dependency.objects.filter(name="mailer").update(metrics_text="v0\x1eanything")
    with CaptureQueriesContext(connection) as captured:
        rendered = client.get("/metrics").content.decode()
    assert len(captured) == 9  # and the rows to render
    assert rendered == stored
    assert 'seahealth_probes_total{dependency="api",kind="http",outcome="failure"} 1.0' in stored


def test_a_change_of_criticality_shows_at_the_next_scrape(client) -> None:
    _recorded_rows()
    sync(
        parse_declaration(
            """\
dependencies:
  - {name: api, kind: http, url: "http://127.0.0.1:9/health", critical: false}
  - {name: mailer, kind: smtp, host: 127.0.0.1, port: 9}
  - {name: node, kind: rpc, url: "http://127.0.0.1:9/"}
""",
            "dependencies.yaml",
        )
    )
    up = [dict(labels) for name, labels in scrape(client) if name == "seahealth_dependency_up"]
    assert {(labels["dependency"], labels["critical"]) for labels in up} == {
        ("api", "false"),
        ("mailer", "false"),
        ("node", "false"),
    }


class TestToken:
    @pytest.fixture(autouse=True)
    def token(self, settings) -> None:
        settings.SEAHEALTH_METRICS_TOKEN = "scrape-token-1234"

    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong", "scrape-token-1234", "Basic c2NyYXBl"]
    )
    def test_without_the_token_it_is_a_401(self, client, header) -> None:
        headers = {"HTTP_AUTHORIZATION": header} if header else {}
        response = client.get("/metrics", **headers)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_with_the_token_it_answers(self, client) -> None:
        make_dependency("api", status="up")
        assert scrape(client, HTTP_AUTHORIZATION="Bearer scrape-token-1234")


def test_promtool_finds_nothing_to_say(client, promtool: str) -> None:
    _burning_slos()
    up = make_dependency(
        "api", status="up", last_observations={"tls_cert_not_after": "2027-01-31T12:00:00Z"}
    )
    for seconds, outcome in enumerate([OK, REFUSED, SLOW]):
        up = probe(up, outcome, seconds)
    make_dependency(
        "node",
        kind="rpc",
        status="up",
        last_observations={"block_number": 1, "block_age_seconds": 2.0},
    )
    text = client.get("/metrics").content
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


def test_a_database_that_fails_is_a_503_with_the_reason_in_the_text_format(client, caplog) -> None:
    make_dependency("payments")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE probes_dependency RENAME TO probes_dependency_gone")
    with caplog.at_level(logging.ERROR, logger="dashboard.database_failures"):
        for _ in range(3):
            # Rolled back after each, so that PostgreSQL fails each scrape alike.
            with transaction.atomic():
                response = client.get("/metrics")
                transaction.set_rollback(True)
            assert response.status_code == 503
            assert response["Content-Type"].startswith("text/plain; version=0.0.4")
            assert response["Cache-Control"] == "no-store"
            body = response.content.decode()
            assert body == "# database unavailable: no metrics can be read\n"
            assert list(text_string_to_metric_families(body)) == []  # a comment, well formed
    [logged] = caplog.records  # the driver's text, once
    assert "probes_dependency" in logged.getMessage()


HOUR = timedelta(hours=1)


def _burning_slos() -> None:
    """Real checks, in frozen time, of three dependencies over an hour, then the error
    budgets refreshed: `checkout` (a 99.9% SLO, a check every 30 s) down for the last
    10 minutes; `ledger` (the same SLO, a check every 150 s: two in 5 minutes, fewer than
    its min_checks of 3) up throughout; `search` up, with no SLO."""
    slo = Slo(objective=0.999).stored()
    every = {"checkout": 30, "ledger": 150, "search": 30}
    for name, seconds in every.items():
        make_dependency(
            name,
            interval=timedelta(seconds=seconds),
            failure_threshold=1,
            slo=slo if name != "search" else None,
        )
    outage = T0 + timedelta(minutes=50)
    simulation.run(lambda name, at: name != "checkout" or at < outage, T0, T0 + HOUR)
    error_budgets.refresh(T0 + HOUR)


def test_slo_figures_from_real_checks(client) -> None:
    _burning_slos()
    with freeze_time(T0 + HOUR):
        samples = scrape(client)
    checkout = {"dependency": "checkout", "kind": "http"}
    assert value(samples, "seahealth_slo_objective_ratio", **checkout) == 0.999
    # Down from the first check after 50 minutes (at most 30 s late): about 1/6 of the time,
    # 166 times the 0.1% the objective allows.
    burn = "seahealth_slo_burn_rate"
    hour = value(samples, burn, **checkout, window="1h")
    assert 1000 * 9.5 / 60 < hour <= 1000 / 6
    assert value(samples, burn, **checkout, window="5m") == pytest.approx(1000)
    assert value(samples, burn, **checkout, window="3d") == pytest.approx(hour)
    # The budget is 30 days' 43.2 minutes, of which the hour's down time (3.6 s per unit of
    # the 1h burn) is spent.
    remaining = value(samples, "seahealth_slo_error_budget_remaining_ratio", **checkout)
    assert remaining == pytest.approx(1 - hour * 3.6 / (43.2 * 60), abs=0.001)
    availability = value(samples, "seahealth_slo_availability_ratio", **checkout)
    assert availability == pytest.approx(5 / 6, abs=0.01)

    ledger = {"dependency": "ledger", "kind": "http"}
    assert value(samples, "seahealth_slo_error_budget_remaining_ratio", **ledger) == 1
    assert value(samples, burn, **ledger, window="30m") == 0
    # Two checks in 5 minutes: too few to judge, so no rate at all rather than a wild one.
    assert value(samples, burn, **ledger, window="5m") is None
    assert not [
        key
        for key in samples
        if key[0].startswith("seahealth_slo_") and (("dependency", "search") in key[1])
    ]


def test_slo_figures_cost_no_query(client) -> None:
    _burning_slos()
    with CaptureQueriesContext(connection) as captured:
        text = client.get("/metrics").content.decode()
    assert 'seahealth_slo_burn_rate{dependency="checkout",kind="http",window="5m"}' in text
    assert len(captured) == 8
