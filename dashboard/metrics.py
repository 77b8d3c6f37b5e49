"""/metrics for Prometheus, built at scrape time from the database.

Every figure comes from the rows (current state, ever-growing totals) and rollups (uptime
windows), none from the answering process: every gunicorn worker on every host gives the
same answer. Labels carry only names and fixed words, never a URL, a secret or an error
text.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

# The classic text format: every Prometheus reads it (version 1.0.0 needs a recent one),
# and our names and labels need nothing newer.
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from probes import rollups, tls
from probes.breaker import State
from probes.models import Dependency
from probes.outcomes import Result
from probes.statuses import ServiceStatus, Status, service_status

ROW_FIELDS = (
    "id",
    "name",
    "kind",
    "critical",
    "status",
    "breaker_state",
    "last_checked_at",
    "last_latency_ms",
    "last_observations",
    "totals",
    *rollups.UPTIME_FIELDS,
)
# Prometheus' window names for rollups' uptime windows.
WINDOWS = {"24h": "1d", "7d": "7d", "30d": "30d"}
BUCKETS_SECONDS = [f"{bound / 1000:g}" for bound in rollups.LATENCY_BOUNDS_MS] + ["+Inf"]


class StateCollector:
    """The families of one scrape, from one query."""

    def collect(self) -> Iterator[Metric]:
        rows = list(Dependency.objects.active().order_by("name").values(*ROW_FIELDS))
        families = _Families()
        for row in rows:
            families.add(row)
        overall = service_status((Status(row["status"]), row["critical"]) for row in rows)
        yield from families.all()
        service = GaugeMetricFamily(
            "seahealth_service_status",
            "The service's status: 1 for the current one (healthy, degraded, unhealthy).",
            labels=["status"],
        )
        for status in ServiceStatus:
            service.add_metric([status.value], 1 if status is overall else 0)
        yield service
        checked = [row["last_checked_at"] for row in rows if row["last_checked_at"]]
        last = GaugeMetricFamily(
            "seahealth_last_probe_timestamp_seconds",
            "When the newest probe result was recorded (Unix time); absent before the first.",
        )
        if checked:
            last.add_metric([], max(checked).timestamp())
        yield last


class _Families:
    def __init__(self) -> None:
        per_dependency = ["dependency", "kind"]
        self.up = GaugeMetricFamily(
            "seahealth_dependency_up",
            "1 when the dependency is up or degraded, 0 when down; absent until first probed.",
            labels=[*per_dependency, "critical"],
        )
        self.status = GaugeMetricFamily(
            "seahealth_dependency_status",
            "1 for the dependency's current status (up, degraded, down, unknown), else 0.",
            labels=[*per_dependency, "status"],
        )
        self.latency = GaugeMetricFamily(
            "seahealth_probe_latency_seconds",
            "The latency of the last probe that answered.",
            labels=per_dependency,
        )
        self.histogram = HistogramMetricFamily(
            "seahealth_probe_duration_seconds",
            "Latencies of the probes that answered, since the dependency was declared.",
            labels=per_dependency,
        )
        self.probes = CounterMetricFamily(
            "seahealth_probes",
            "Probes by outcome (success, degraded, failure).",
            labels=[*per_dependency, "outcome"],
        )
        self.errors = CounterMetricFamily(
            "seahealth_probe_errors",
            "Failed probes by error class.",
            labels=[*per_dependency, "error_class"],
        )
        self.breaker = GaugeMetricFamily(
            "seahealth_circuit_breaker_state",
            "1 for the circuit breaker's current state (closed, open, half_open), else 0.",
            labels=[*per_dependency, "state"],
        )
        self.transitions = CounterMetricFamily(
            "seahealth_circuit_breaker_transitions",
            "Circuit-breaker transitions.",
            labels=[*per_dependency, "from_state", "to_state"],
        )
        self.uptime = GaugeMetricFamily(
            "seahealth_dependency_uptime_ratio",
            "The share of checks that did not fail over the window (1d, 7d, 30d), from rollups.",
            labels=[*per_dependency, "window"],
        )
        self.cert_expiry = GaugeMetricFamily(
            "seahealth_tls_cert_expiry_timestamp_seconds",
            "When the earliest certificate of the peer's verified chain expires (Unix time).",
            labels=per_dependency,
        )
        self.block_age = GaugeMetricFamily(
            "seahealth_rpc_block_age_seconds",
            "The age of the node's latest block when last probed.",
            labels=["dependency"],
        )
        self.block_number = GaugeMetricFamily(
            "seahealth_rpc_block_number",
            "The node's latest block number when last probed.",
            labels=["dependency"],
        )

    def add(self, row: dict[str, Any]) -> None:
        name, kind = row["name"], row["kind"]
        labels = [name, kind]
        status = Status(row["status"])
        if status is not Status.UNKNOWN:
            critical = "true" if row["critical"] else "false"
            self.up.add_metric([*labels, critical], 0 if status is Status.DOWN else 1)
        for each in Status:
            self.status.add_metric([*labels, each.value], 1 if each is status else 0)
        for each in State:
            self.breaker.add_metric([*labels, each.value], 1 if each == row["breaker_state"] else 0)
        if row["last_latency_ms"] is not None:
            self.latency.add_metric(labels, row["last_latency_ms"] / 1000)
        totals = row["totals"] or {}
        results = totals.get("results", {})
        for outcome in Result:
            self.probes.add_metric([*labels, outcome.value], results.get(outcome.value, 0))
        for error_class, n in sorted(totals.get("errors", {}).items()):
            self.errors.add_metric([*labels, error_class], n)
        for move, n in sorted(totals.get("transitions", {}).items()):
            self.transitions.add_metric([*labels, *move.split(">")], n)
        latency = totals.get("latency")
        if latency:
            cumulative, buckets = 0, []
            for bound, n in zip(BUCKETS_SECONDS, latency["buckets"], strict=True):
                cumulative += n
                buckets.append((bound, cumulative))
            self.histogram.add_metric(labels, buckets, latency["sum_ms"] / 1000)
        for window, label in WINDOWS.items():
            share = row[f"uptime_{window}"]
            if share is not None:
                self.uptime.add_metric([*labels, label], share)
        observations = row["last_observations"] or {}
        expires = tls.not_after(observations)
        if expires is not None:
            self.cert_expiry.add_metric(labels, expires.timestamp())
        if kind == "rpc" and "block_number" in observations:
            self.block_age.add_metric([name], observations["block_age_seconds"])
            self.block_number.add_metric([name], observations["block_number"])

    def all(self) -> list[Metric]:
        return [value for value in vars(self).values() if isinstance(value, Metric)]


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.SEAHEALTH_METRICS_TOKEN
    if token:
        scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(offered.encode(), token.encode()):
            response = HttpResponse(
                "a bearer token is required\n", status=401, content_type="text/plain"
            )
            response["WWW-Authenticate"] = 'Bearer realm="seahealth metrics"'
            return response
    # A registry of its own: no process or platform metrics, which differ per worker.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector())
    response = HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response
