"""End to end with a real Prometheus: the scrape job of deploy/prometheus/prometheus.yml, with
a bearer token, scrapes the dashboard served by gunicorn, and the shipped alert rules load and
select what it exports."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml
from django.conf import settings
from django.utils import timezone

from tests.conftest import missing
from tests.e2e.site import Site
from tests.factories import make_dependency
from tests.processes import Process, StartProcess

pytestmark = pytest.mark.django_db(transaction=True)

PROMETHEUS = shutil.which("prometheus")
DEPLOY = Path(settings.BASE_DIR) / "deploy" / "prometheus"
TOKEN = "an-e2e-scrape-token"
# Scrapes and rule evaluations come every second; the rest is margin for a loaded machine.
WAIT_TIMEOUT = 30.0
# The port is picked free, then Prometheus binds it: another process may take it in between.
PORT_ATTEMPTS = 3

T = TypeVar("T")


class Prometheus:
    def __init__(self, process: Process, url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str, **params: str) -> httpx.Response:
        # No proxy from the environment: Prometheus is on loopback.
        return httpx.get(f"{self.url}{path}", params=params, timeout=5, trust_env=False)

    def api(self, path: str, **params: str) -> Any:
        answer = self.get(f"/api/v1/{path}", **params)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def wait_for(self, what: str, read: Callable[[], T], done: Callable[[T], bool]) -> T:
        """Poll `read()` until `done` says yes; fail at the deadline with the last value."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            value = read()
            if done(value):
                return value
            self.process.check_running()
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {WAIT_TIMEOUT:g}s; last seen: {value}")
            time.sleep(0.1)

    def targets(self) -> dict[str, dict[str, Any]]:
        """The active targets by job."""
        return {target["labels"]["job"]: target for target in self.api("targets")["activeTargets"]}

    def rules(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The rules by (group, name)."""
        groups = self.api("rules")["groups"]
        return {(group["name"], rule["name"]): rule for group in groups for rule in group["rules"]}

    def alerts(self) -> list[tuple[str, str, str]]:
        """The active alerts as (name, dependency, state)."""
        return sorted(
            (alert["labels"]["alertname"], alert["labels"].get("dependency", ""), alert["state"])
            for alert in self.api("alerts")["alerts"]
        )


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_prometheus(
    binary: str, start_process: StartProcess, config: Path, directory: Path
) -> Prometheus:
    for _ in range(PORT_ATTEMPTS):
        port = unused_port()
        process = start_process(
            f"prometheus-{port}",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            env={},
        )
        prometheus = Prometheus(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + WAIT_TIMEOUT
        while process.popen.poll() is None:
            try:
                if prometheus.get("/-/ready").status_code == 200:
                    return prometheus
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"Prometheus not ready:\n{process.output()}"
            time.sleep(0.1)
        assert "address already in use" in process.output(), process.output()
    pytest.fail(f"Prometheus found no free port in {PORT_ATTEMPTS} attempts")


def shipped_rules() -> list[tuple[str, str]]:
    document = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return sorted(
        (group["name"], rule["alert"]) for group in document["groups"] for rule in group["rules"]
    )


def write_config(directory: Path, site: Site) -> Path:
    """The shipped config, on this site, every second; its job twice: with the token, without."""
    shipped = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    [job] = [job for job in shipped["scrape_configs"] if job["job_name"] == "seahealth"]
    job["static_configs"] = [{"targets": [site.address]}]
    token_file = directory / "metrics-token"
    token_file.write_text(f"{TOKEN}\n")  # as `echo` writes it
    config = {
        **shipped,
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / path) for path in shipped["rule_files"]],
        "scrape_configs": [
            {**job, "authorization": {"credentials_file": str(token_file)}},
            {**job, "job_name": "seahealth-without-token"},
        ],
    }
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def prometheus_binary() -> str:
    if PROMETHEUS is None:
        missing("prometheus is not installed (as root, make test installs Debian's prometheus)")
    return PROMETHEUS


def test_prometheus_scrapes_with_the_token_and_the_rules_select_the_series(
    prometheus_binary: str, site: Site, start_process: StartProcess, tmp_path: Path
) -> None:
    # Probed just now: the prober counts as running, and is not behind (nothing is overdue).
    now = timezone.now()
    ahead = now + timedelta(hours=1)
    make_dependency("payments", critical=True, status="up", last_checked_at=now, next_due_at=ahead)
    make_dependency(
        "ledger",
        kind="rpc",
        critical=True,
        status="down",
        breaker_state="open",
        breaker_opened_at=now,
        last_checked_at=now,
        next_due_at=ahead,
    )
    # Not probed yet: unknown.
    make_dependency("mailer", kind="smtp", critical=True, next_due_at=ahead)
    site.start(SEAHEALTH_METRICS_TOKEN=TOKEN)
    prometheus = start_prometheus(
        prometheus_binary, start_process, write_config(tmp_path, site), tmp_path
    )
    targets = prometheus.wait_for(
        "the job with the token scraped, the one without it tried",
        prometheus.targets,
        lambda targets: (
            targets.get("seahealth", {}).get("health") == "up"
            and targets.get("seahealth-without-token", {}).get("health") not in {None, "unknown"}
        ),
    )
    without_token = targets["seahealth-without-token"]
    assert without_token["health"] == "down"
    assert "401" in without_token["lastError"]

    scraped = prometheus.api("query", query="seahealth_dependency_up")["result"]
    assert sorted(
        (series["metric"]["job"], series["metric"]["dependency"], series["value"][1])
        for series in scraped
    ) == [("seahealth", "ledger", "0"), ("seahealth", "payments", "1")]

    rules = prometheus.wait_for(
        "every rule evaluated",
        prometheus.rules,
        lambda rules: all(rule["health"] != "unknown" for rule in rules.values()),
    )
    assert sorted(rules) == shipped_rules()
    assert {key: rule["lastError"] for key, rule in rules.items() if rule["health"] != "ok"} == {}
    # Pending: they fire only after their `for`.
    prometheus.wait_for(
        "the down critical dependency's alerts pending",
        prometheus.alerts,
        lambda alerts: (
            alerts
            == [
                ("SeahealthCircuitBreakerOpen", "ledger", "pending"),
                ("SeahealthCriticalDependencyDown", "ledger", "pending"),
            ]
        ),
    )
