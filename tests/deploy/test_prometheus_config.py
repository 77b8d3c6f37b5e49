"""deploy/prometheus/: promtool accepts the config and the alert rules and passes the rules'
unit tests, and the rules select series that /metrics really exports."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Channel
from probes import declaration_state, error_budgets
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from probes.slo import Slo
from tests.factories import T0, make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.no_database  # its django_db tests run in both passes all the same

PROMETHEUS_DIR = Path(settings.BASE_DIR) / "deploy" / "prometheus"
PROMTOOL_TIMEOUT = 60
# A seahealth series in a rule's expression, with its label matchers when it has any.
SELECTOR = re.compile(r"\b(seahealth_[a-zA-Z0-9_]+)\s*(?:\{([^}]*)\})?")
# An exact label matcher, label="value" (not !=, =~ or !~).
EXACT_MATCHER = re.compile(r'\b([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"]*)"')
LABEL_IN_TEMPLATE = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


@pytest.mark.parametrize(
    "arguments",
    [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
        # Loads the rule files too, relative to the config.
        ["check", "config", "prometheus.yml"],
    ],
    ids=" ".join,
)
def test_promtool_accepts(promtool: str, arguments: list[str]) -> None:
    result = subprocess.run(
        [promtool, *arguments],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(arguments)} exited with {result.returncode}:\n"
        f"{result.stdout}{result.stderr}"
    )


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


@pytest.fixture
def exported(client) -> dict[str, list[dict[str, str]]]:
    """The label sets of every sample /metrics exports, by sample name, with a row behind every
    family: a critical HTTP dependency probed up then down (breaker open), an RPC node
    that is up, with a certificate and uptime figures, a notification channel, an HTTP
    dependency with an SLO checked every minute for an hour (real checks, in frozen time),
    its error budget refreshed: a burn rate for every window; and a declaration read."""
    make_dependency("checkout", interval=timedelta(minutes=1), slo=Slo(objective=0.999).stored())
    simulation.run(lambda name, at: at.minute < 50, T0, T0 + timedelta(hours=1))
    error_budgets.refresh(T0 + timedelta(hours=1))
    payments = make_dependency("payments", critical=True, failure_threshold=1)
    for seconds, outcome in [
        (0, Outcome(latency_ms=42.0)),
        (30, Outcome(error_class=ErrorClass.CONNECT, detail="connection refused")),
    ]:
        checked_at = T0 + timedelta(seconds=seconds)
        payments.refresh_from_db()
        record([(job_for(payments), Outcome(**{**outcome.__dict__, "checked_at": checked_at}))])
    make_dependency(
        "ledger",
        kind="rpc",
        status="up",
        last_latency_ms=12.0,
        last_observations={
            "block_number": 21000000,
            "block_age_seconds": 12.5,
            "tls_cert_not_after": "2027-01-31T12:00:00Z",
        },
        uptime_24h=0.999,
        uptime_7d=0.99,
        uptime_30d=0.98,
    )
    Channel.objects.create(
        name="ops-hook",
        type="webhook",
        config={"url": "http://127.0.0.1:9/hook"},
        group_wait=timedelta(0),
        give_up_after=timedelta(days=1),
    )
    declaration_state.accepted(T0)
    response = client.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample.labels)
    return samples


@pytest.mark.django_db
def test_every_series_the_rules_select_is_exported(exported) -> None:
    missing: dict[str, list[str]] = {}
    selected = 0
    for rule in alert_rules():
        for name, matchers in SELECTOR.findall(rule["expr"]):
            selected += 1
            for label, value in EXACT_MATCHER.findall(matchers):
                if not any(labels.get(label) == value for labels in exported.get(name, [])):
                    missing.setdefault(rule["alert"], []).append(f'{name}{{{label}="{value}"}}')
            if name not in exported:
                missing.setdefault(rule["alert"], []).append(name)
    assert selected, "no seahealth_ series found in the rules' expressions"
    assert missing == {}, f"exported: {sorted(exported)}"


@pytest.mark.django_db
def test_every_label_the_alerts_print_is_on_the_series_they_select(exported) -> None:
    unknown: dict[str, set[str]] = {}
    for rule in alert_rules():
        names = {name for name, _ in SELECTOR.findall(rule["expr"])}
        if not names:
            continue  # up{job="seahealth"}: Prometheus' own series
        labels = set(TARGET_LABELS)
        for name in names:
            labels.update(label for sample in exported.get(name, []) for label in sample)
        printed = set(LABEL_IN_TEMPLATE.findall(" ".join(rule["annotations"].values())))
        if printed - labels:
            unknown[rule["alert"]] = printed - labels
    assert unknown == {}


def test_the_scrape_target_is_a_host_env_example_allows() -> None:
    """Else Django answers Prometheus with 400 (DisallowedHost)."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "seahealth"]
    hosts = {
        target.rpartition(":")[0]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    env_example = (Path(settings.BASE_DIR) / ".env.example").read_text()
    (allowed,) = re.findall(r"^ALLOWED_HOSTS=(.*)$", env_example, flags=re.MULTILINE)
    assert hosts - set(allowed.split(",")) == set()
