"""Each dependency's lines of /metrics, rendered when its state is recorded.

prometheus-client's collectors take 7 s to build /metrics for 10,000 dependencies (350,000
samples); Prometheus times a scrape out long before. So recording renders every recorded
row's samples once, into `Dependency.metrics_text`, and a scrape reads those texts and puts
each family's lines together (dashboard/metrics.py): the cost of a scrape is the bytes it
sends, and every process and host answers the same, from the database.

Stored text: a version line, then one block of sample lines per family of FAMILIES, in that
order, separated by SEPARATOR (which no label value can hold: names are [a-z0-9_-], kinds
and states are fixed words). A row whose text is empty or of another version (declared
since, changed by sync, or recorded by an older release) is rendered at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.utils import floatToGoString

from probes import kinds, rollups, tls
from probes.breaker import State
from probes.outcomes import Result
from probes.statuses import Status

if TYPE_CHECKING:
    from probes.models import Dependency

# Bump when FAMILIES or a family's lines change: older texts are then rendered afresh.
VERSION = "v1"
SEPARATOR = "\x1e"
# As Python writes them (0.001, 1, 30): the `le` values of existing series must not change.
BUCKETS_SECONDS = [f"{bound / 1000:g}" for bound in rollups.LATENCY_BOUNDS_MS] + ["+Inf"]


@dataclass(frozen=True)
class Family:
    name: str
    type: str
    help: str

    def header(self) -> str:
        return f"# HELP {self.name} {self.help}\n# TYPE {self.name} {self.type}\n"


UP = Family(
    "seahealth_dependency_up",
    "gauge",
    "1 when the dependency is up or degraded, 0 when down; absent until first probed.",
)
STATUS = Family(
    "seahealth_dependency_status",
    "gauge",
    "1 for the dependency's current status (up, degraded, down, unknown), else 0.",
)
BREAKER = Family(
    "seahealth_circuit_breaker_state",
    "gauge",
    "1 for the circuit breaker's current state (closed, open, half_open), else 0.",
)
LATENCY = Family(
    "seahealth_probe_latency_seconds", "gauge", "The latency of the last probe that answered."
)
DURATION = Family(
    "seahealth_probe_duration_seconds",
    "histogram",
    "Latencies of the probes that answered, since the dependency was declared.",
)
PROBES = Family(
    "seahealth_probes_total", "counter", "Probes by outcome (success, degraded, failure)."
)
ERRORS = Family("seahealth_probe_errors_total", "counter", "Failed probes by error class.")
TRANSITIONS = Family(
    "seahealth_circuit_breaker_transitions_total", "counter", "Circuit-breaker transitions."
)
CERT_EXPIRY = Family(
    "seahealth_tls_cert_expiry_timestamp_seconds",
    "gauge",
    "When the earliest certificate of the peer's verified chain expires (Unix time).",
)
# The families every dependency has, then those of the kinds (kinds.metric_families()).
COMMON_FAMILIES = (
    UP,
    STATUS,
    BREAKER,
    LATENCY,
    DURATION,
    PROBES,
    ERRORS,
    TRANSITIONS,
    CERT_EXPIRY,
)


def families() -> tuple[Family, ...]:
    """The families of the stored text, in its order."""
    return (*COMMON_FAMILIES, *kinds.metric_families())


def label_value(value: str) -> str:
    """Escaped as the text format asks: backslash, double quote and line feed."""
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def number(value: float) -> str:
    return floatToGoString(value)


def render(row: Dependency) -> str:
    """The row's stored text: its samples of every family of families()."""
    return SEPARATOR.join([VERSION, *samples(row)])


def blocks(text: str) -> list[str] | None:
    """The per-family blocks of a stored text; None when it must be rendered afresh."""
    parts = text.split(SEPARATOR)
    if parts[0] != VERSION or len(parts) != len(families()) + 1:
        return None
    return parts[1:]


def samples(row: Dependency) -> list[str]:
    """One block of sample lines per family of families() (empty when it has none)."""
    name = label_value(row.name)
    labels = f'dependency="{name}",kind="{label_value(row.kind)}"'
    status = Status(row.status)

    up = ""
    if status is not Status.UNKNOWN:
        critical = "true" if row.critical else "false"
        value = 0 if status is Status.DOWN else 1
        up = f'{UP.name}{{{labels},critical="{critical}"}} {number(value)}\n'
    by_status = _one_hot(STATUS, labels, "status", [s.value for s in Status], row.status)
    by_state = _one_hot(BREAKER, labels, "state", [s.value for s in State], row.breaker_state)
    latency = ""
    if row.last_latency_ms is not None:
        latency = f"{LATENCY.name}{{{labels}}} {number(row.last_latency_ms / 1000)}\n"

    totals = row.totals or {}
    results = totals.get("results", {})
    probes = "".join(
        f'{PROBES.name}{{{labels},outcome="{outcome.value}"}} '
        f"{number(results.get(outcome.value, 0))}\n"
        for outcome in Result
    )
    errors = "".join(
        f'{ERRORS.name}{{{labels},error_class="{label_value(error_class)}"}} {number(n)}\n'
        for error_class, n in sorted(totals.get("errors", {}).items())
    )
    transitions = "".join(
        f'{TRANSITIONS.name}{{{labels},from_state="{from_state}",to_state="{to_state}"}} '
        f"{number(n)}\n"
        for (from_state, _, to_state), n in (
            (move.partition(">"), n) for move, n in sorted(totals.get("transitions", {}).items())
        )
    )
    duration = _histogram(labels, totals.get("latency"))

    observations = row.last_observations or {}
    expires = tls.not_after(observations)
    cert_expiry = ""
    if expires is not None:
        cert_expiry = f"{CERT_EXPIRY.name}{{{labels}}} {number(expires.timestamp())}\n"
    return [
        up,
        by_status,
        by_state,
        latency,
        duration,
        probes,
        errors,
        transitions,
        cert_expiry,
        *kinds.metric_samples(row.kind, name, observations),
    ]


def _one_hot(family: Family, labels: str, label: str, values: Iterable[str], current: str) -> str:
    return "".join(
        f'{family.name}{{{labels},{label}="{value}"}} {"1.0" if value == current else "0.0"}\n'
        for value in values
    )


def _histogram(labels: str, latency: dict | None) -> str:
    if not latency:
        return ""
    lines, cumulative = [], 0
    for bound, n in zip(BUCKETS_SECONDS, latency["buckets"], strict=True):
        cumulative += n
        lines.append(f'{DURATION.name}_bucket{{{labels},le="{bound}"}} {number(cumulative)}\n')
    lines.append(f"{DURATION.name}_count{{{labels}}} {number(cumulative)}\n")
    lines.append(f"{DURATION.name}_sum{{{labels}}} {number(latency['sum_ms'] / 1000)}\n")
    return "".join(lines)
