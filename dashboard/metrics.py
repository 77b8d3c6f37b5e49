"""/metrics for Prometheus, put together at scrape time from the database.

Every figure comes from the rows: the samples recording rendered into each row's
metrics_text (probes/exposition.py), its stored uptime windows and SLO figures, its status,
and its next due time (the prober's backlog). None comes from the answering process, so
every gunicorn worker on every host gives the same answer.
Labels carry only names and fixed words, never a URL, a secret or an error text.
"""

from __future__ import annotations

import gzip
import hmac
import re
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

# The classic text format: every Prometheus reads it (version 1.0.0 needs a recent one),
# and our names and labels need nothing newer.
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from dashboard import database_failures
from notifications import metrics as notifications_metrics
from probes import backlog, declaration_state, exposition, maintenance_reader
from probes.exposition import Family
from probes.models import Dependency
from probes.statuses import ServiceStatus, Status, service_status

UPTIME = Family(
    "seahealth_dependency_uptime_ratio",
    "gauge",
    "The share of the window's measured time the dependency was up or degraded (1d, 7d, "
    "30d), from rollups; time in maintenance or unmeasured is left out.",
)
SLO_OBJECTIVE = Family(
    "seahealth_slo_objective_ratio",
    "gauge",
    "The dependency's declared SLO objective as a ratio (0.999 for 99.9%); absent without an SLO.",
)
SLO_AVAILABILITY = Family(
    "seahealth_slo_availability_ratio",
    "gauge",
    "Availability over the SLO's window: the share of its measured time up or degraded.",
)
SLO_REMAINING = Family(
    "seahealth_slo_error_budget_remaining_ratio",
    "gauge",
    "The share of the SLO window's error budget left: 1 untouched, 0 spent, below 0 overspent.",
)
SLO_BURN = Family(
    "seahealth_slo_burn_rate",
    "gauge",
    "How fast the error budget burns over the window (5m, 30m, 1h, 6h, 1d, 3d): 1 spends it in "
    "exactly the SLO's window. Absent for a window with fewer checks than the SLO's "
    "min_checks.",
)
SERVICE_STATUS = Family(
    "seahealth_service_status",
    "gauge",
    "The service's status: 1 for the current one (healthy, degraded, unhealthy).",
)
LAST_PROBE = Family(
    "seahealth_last_probe_timestamp_seconds",
    "gauge",
    "When the newest probe result was recorded (Unix time); absent before the first.",
)
BACKLOG = Family(
    "seahealth_probe_backlog",
    "gauge",
    "Dependencies due for longer than a tick and a second and not yet claimed: while above 0, "
    "the prober is behind and probes them less often than declared.",
)
SCHEDULE_LAG = Family(
    "seahealth_probe_schedule_lag_seconds",
    "gauge",
    "How long the most overdue of seahealth_probe_backlog's dependencies has been due; 0 when "
    "none is.",
)
MAINTENANCE = Family(
    "seahealth_dependency_maintenance",
    "gauge",
    "1 while the dependency is in a maintenance window (its notifications muted, its checks "
    "left out of uptime), else 0. Its status and up still tell the truth.",
)
DECLARATION_VALID = Family(
    "seahealth_declaration_valid",
    "gauge",
    "1 when dependencies.yaml, as the prober last read it, was accepted; 0 when it was refused "
    "(the prober goes on with the declaration accepted before). Absent before the first read.",
)
DECLARATION_SYNCED = Family(
    "seahealth_declaration_last_sync_timestamp_seconds",
    "gauge",
    "When the declaration being probed was accepted and synced (Unix time).",
)
# Prometheus' window names for the stored uptime windows.
WINDOWS = {"uptime_24h": "1d", "uptime_7d": "7d", "uptime_30d": "30d"}
ACCEPTS_GZIP = re.compile(r"\bgzip\b")
COLUMNS = ("id", "name", "kind", "group", "critical", *WINDOWS, "metrics_text", "slo_figures")


def exposition_text() -> str:
    """The whole of /metrics, from eight queries (nine when some rows need rendering
    afresh): five here (the rows, the service, the backlog, the maintenance windows, the
    declaration's state), three for the notifications.

    Per row, only stored text and numbers are read: at 10,000 rows, converting each one's
    datetimes and statuses would cost a fifth of the scrape. The service's status and the
    newest probe come from the database, grouped; the backlog from the scheduler's index.
    """
    rows = list(Dependency.objects.active().order_by("name").values_list(*COLUMNS, named=True))
    per_row: list[list[str] | None] = [exposition.blocks(row.metrics_text) for row in rows]
    stale = {
        row.id: i for i, (row, found) in enumerate(zip(rows, per_row, strict=True)) if found is None
    }
    if stale:
        for dependency in Dependency.objects.filter(id__in=stale):
            per_row[stale[dependency.id]] = exposition.samples(dependency)
    parts = []
    for i, family in enumerate(exposition.families()):
        parts.append(family.header())
        parts += [found[i] for found in per_row]  # type: ignore[index]
    parts += _uptimes(rows)
    parts += _slos(rows)
    parts += _maintenance(rows)
    parts += _service()
    parts += _backlog()
    parts += _declaration()
    parts += notifications_metrics.exposition()
    return "".join(parts)


def _service() -> list[str]:
    """The service's status and the newest probe, from the active rows grouped."""
    groups = list(
        Dependency.objects.active()
        .values("status", "critical")
        .annotate(newest=Max("last_checked_at"))
        .values_list("status", "critical", "newest", named=True)
        .order_by()
    )
    overall = service_status((Status(group.status), group.critical) for group in groups)
    parts = [SERVICE_STATUS.header()]
    parts += [
        f'{SERVICE_STATUS.name}{{status="{each.value}"}} {"1.0" if each is overall else "0.0"}\n'
        for each in ServiceStatus
    ]
    parts.append(LAST_PROBE.header())
    newest = max((group.newest for group in groups if group.newest is not None), default=None)
    if newest is not None:
        parts.append(f"{LAST_PROBE.name} {exposition.number(newest.timestamp())}\n")
    return parts


def _backlog() -> list[str]:
    behind = backlog.measure()
    return [
        BACKLOG.header(),
        f"{BACKLOG.name} {exposition.number(behind.count)}\n",
        SCHEDULE_LAG.header(),
        f"{SCHEDULE_LAG.name} {exposition.number(behind.lag_seconds)}\n",
    ]


def _declaration() -> list[str]:
    """Both absent before the prober first read the file; the sync time, before one was
    accepted."""
    state = declaration_state.current()
    valid = synced = ""
    if state is not None:
        valid = f"{DECLARATION_VALID.name} {'1.0' if state.valid else '0.0'}\n"
    if state is not None and state.synced_at is not None:
        synced = f"{DECLARATION_SYNCED.name} {exposition.number(state.synced_at.timestamp())}\n"
    return [DECLARATION_VALID.header(), valid, DECLARATION_SYNCED.header(), synced]


def _uptimes(rows: list[tuple[Any, ...]]) -> list[str]:
    lines = [UPTIME.header()]
    for row in rows:
        labels = f'dependency="{exposition.label_value(row.name)}",kind="{row.kind}"'
        for field, window in WINDOWS.items():
            share = getattr(row, field)
            if share is not None:
                lines.append(f'{UPTIME.name}{{{labels},window="{window}"}} {share!r}\n')
    return lines


def _slos(rows: list[tuple[Any, ...]]) -> list[str]:
    """From the figures error_budgets.refresh() stores on each row with an SLO, every 15 s:
    a scrape computes nothing, and reads nothing beyond the rows. A figure that is None (no
    data; for a burn rate, fewer checks than min_checks) is left out."""
    found: dict[Family, list[str]] = {
        family: [family.header()]
        for family in (SLO_OBJECTIVE, SLO_AVAILABILITY, SLO_REMAINING, SLO_BURN)
    }

    def sample(family: Family, labels: str, value: float | None) -> None:
        if value is not None:
            found[family].append(f"{family.name}{{{labels}}} {exposition.number(value)}\n")

    for row in rows:
        figures = row.slo_figures
        if not figures:
            continue
        labels = f'dependency="{exposition.label_value(row.name)}",kind="{row.kind}"'
        sample(SLO_OBJECTIVE, labels, figures["objective"])
        sample(SLO_AVAILABILITY, labels, figures["availability"])
        sample(SLO_REMAINING, labels, figures["remaining"])
        for window, rate in figures["burn"].items():
            sample(SLO_BURN, f'{labels},window="{window}"', rate)
    return [line for lines in found.values() for line in lines]


def _maintenance(rows: list[tuple[Any, ...]]) -> list[str]:
    """Rendered here, not at recording: a window starts and ends while nothing is recorded.
    One query, the windows: a scrape every 15 s needs no cache that could be stale."""
    effect = maintenance_reader.InEffect.read(maintenance_reader.load(), timezone.now(), None)
    lines = [MAINTENANCE.header()]
    for row in rows:
        labels = f'dependency="{exposition.label_value(row.name)}",kind="{row.kind}"'
        value = "1.0" if effect.of(row) else "0.0"
        lines.append(f"{MAINTENANCE.name}{{{labels}}} {value}\n")
    return lines


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
    try:
        body = exposition_text().encode()
    except DatabaseError as exc:
        # Every figure comes from the database: none is better than a partial answer. The
        # reason as a comment line (the text format's own); the driver's text to the log.
        database_failures.failed(exc)
        response = HttpResponse(
            f"# {database_failures.UNAVAILABLE}: no metrics can be read\n",
            status=503,
            content_type=CONTENT_TYPE_PLAIN_0_0_4,
        )
        response["Cache-Control"] = "no-store"
        return response
    database_failures.answered()
    response = HttpResponse(content_type=CONTENT_TYPE_PLAIN_0_0_4)
    if ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")):
        # Prometheus asks for gzip. At the fastest level: 30 MB (10,000 dependencies) take
        # 0.09 s, not GZipMiddleware's 0.45 s, for a file 20% larger. The middleware leaves
        # an encoded response alone.
        body = gzip.compress(body, compresslevel=1, mtime=0)
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ["Accept-Encoding"])
    response.content = body
    response["Cache-Control"] = "no-store"
    return response
