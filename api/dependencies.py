"""/api/v1/dependencies: their current state as the pages and /health know it, and a probe
asked for now (marked due; the prober takes it on its next tick, nothing probes here)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Path, Router, Schema, Status
from pydantic import ConfigDict, field_validator

from api import audit
from api.auth import READ, WRITE
from api.incidents import IncidentOut, incident_out
from probes.acknowledgements import NotDown, acknowledge
from probes.dependency_spec import DependencySpec
from probes.durations import format_duration
from probes.error_budgets import BURN_WINDOWS
from probes.models import Dependency
from probes.rollups import UPTIME_WINDOWS
from probes.slo import Slo

router = Router(tags=["dependencies"])

# As dependencies.yaml names them (probes/declarations.py): any other name is a 400.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
TRANSITIONS = 50  # the newest, as the dependency's page shows them
STATE_COLUMNS = (
    "name",
    "kind",
    "group",
    "critical",
    "status",
    "status_since",
    "breaker_state",
    "last_latency_ms",
    "last_checked_at",
    "last_error",
    "last_warnings",
    "uptime_24h",
    "uptime_7d",
    "uptime_30d",
    "uptime_coverage",
    "slo",
    "slo_figures",
)


class DependencyState(Schema):
    name: str
    kind: str
    group: str
    critical: bool
    status: str = Field(description="up, degraded, down or unknown")
    since: datetime | None = Field(description="when it entered this status")
    breaker: str = Field(description="closed, open or half_open")
    latency_ms: float | None
    last_checked: datetime | None
    error: str | None
    warnings: list[str]
    uptime: dict[str, float | None] = Field(
        description="24h, 7d and 30d: the share of the time measured that it was up or "
        "degraded, 0 to 1; null before any"
    )
    uptime_coverage: dict[str, float] = Field(
        description="the seconds of each uptime window measured (the prober running, outside "
        "maintenance windows): less than the window when the prober did not run all of it; "
        "a window with none is left out"
    )
    error_budget_remaining: float | None = Field(
        description="the share of its SLO's error budget left, below 0 when overspent; null "
        "without an SLO or before any data"
    )


class SloOut(Schema):
    objective: float = Field(description="the share of time to be up or degraded: 0.999")
    window: str = Field(description="the SLO's window as declared: 30d")
    min_checks: int = Field(description="checks a burn-rate window needs for a rate")
    availability: float | None = Field(description="over the window, 0 to 1; null before data")
    coverage: float = Field(description="seconds of the window measured")
    error_budget_remaining: float | None = Field(description="a share, below 0 when overspent")
    error_budget_remaining_minutes: float | None = Field(
        description="minutes of the budget left, below 0 when overspent"
    )
    burn_rates: dict[str, float | None] = Field(
        description="per window (5m, 30m, 1h, 6h, 1d, 3d): how fast the budget burns, 1 "
        "spending it in exactly the SLO's window; null with fewer checks than min_checks"
    )
    checks: dict[str, int] = Field(description="the checks in each burn-rate window")
    alert: str | None = Field(description="the burn alert in force: page, ticket or null")
    alert_rule: str | None = Field(description="the rule that fires: 1h and 5m over 14.4")


class Transition(Schema):
    at: datetime
    from_state: str
    to_state: str
    reason: str


class DependencyDetail(DependencyState):
    declaration: dict[str, Any] = Field(description="as dependencies.yaml declares it, redacted")
    transitions: list[Transition] = Field(description="the breaker's newest transitions first")
    incidents: list[IncidentOut] = Field(description="its newest incidents first")
    acknowledged_by: str | None = Field(description="who is on its outage, if anyone")
    slo: SloOut | None = Field(description="its SLO and where it stands; null without one")


class DependencyList(Schema):
    dependencies: list[DependencyState]


def one_line(value: str) -> str:
    # JSON's \u escapes reach here past the control-characters middleware; PostgreSQL
    # holds no NUL nor a lone surrogate, and the log's line is one line.
    if UNPRINTABLE.search(value):
        raise ValueError("one line of text: no control characters nor lone surrogates")
    return value


class ProbeRequest(Schema):
    # A misspelt field is an error, not silently nothing.
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=200, description="kept in the audit log: one line")
    _one_line = field_validator("reason")(one_line)


class AcknowledgeRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=500, description="what the responder says: one line")
    _one_line = field_validator("note")(one_line)


class Acknowledged(Schema):
    name: str
    acknowledged_by: str
    acknowledged_at: datetime


class ProbeScheduled(Schema):
    name: str
    due_at: datetime


class Problem(Schema):
    error: str


def state(row: dict[str, Any]) -> dict[str, Any]:
    latency = row["last_latency_ms"]
    return {
        "name": row["name"],
        "kind": row["kind"],
        "group": row["group"],
        "critical": row["critical"],
        "status": row["status"],
        "since": row["status_since"],
        "breaker": row["breaker_state"],
        "latency_ms": round(latency, 1) if latency is not None else None,
        "last_checked": row["last_checked_at"],
        "error": row["last_error"] or None,
        "warnings": row["last_warnings"],
        "uptime": {w: row[f"uptime_{w}"] for w in UPTIME_WINDOWS},
        "uptime_coverage": row["uptime_coverage"] or {},
        "error_budget_remaining": (row["slo_figures"] or {}).get("remaining")
        if row["slo"]
        else None,
    }


def slo_out(declared: dict[str, Any] | None, figures: dict[str, Any]) -> dict[str, Any] | None:
    """The SLO as declared and its figures as last refreshed (every 15 s), or None."""
    slo = Slo.from_stored(declared)
    if slo is None:
        return None
    return {
        "objective": slo.objective,
        "window": format_duration(slo.window),
        "min_checks": slo.min_checks,
        "availability": figures.get("availability"),
        "coverage": figures.get("coverage", 0.0),
        "error_budget_remaining": figures.get("remaining"),
        "error_budget_remaining_minutes": figures.get("remaining_minutes"),
        "burn_rates": {w: figures.get("burn", {}).get(w) for w in BURN_WINDOWS},
        "checks": {w: figures.get("checks", {}).get(w, 0) for w in BURN_WINDOWS},
        "alert": figures.get("alert") or None,
        "alert_rule": figures.get("rule") or None,
    }


@router.get("", response=DependencyList, auth=READ, summary="Every active dependency")
def list_dependencies(request: HttpRequest) -> dict[str, Any]:
    rows = Dependency.objects.active().order_by("name").values(*STATE_COLUMNS)
    return {"dependencies": [state(row) for row in rows]}


Name = Path(..., pattern=NAME_PATTERN, description="the name dependencies.yaml gives it")


@router.get(
    "/{name}",
    response={200: DependencyDetail, 404: Problem},
    auth=READ,
    summary="One dependency: its state, declaration and breaker transitions",
)
def get_dependency(request: HttpRequest, name: str = Name) -> dict[str, Any]:
    row = _active(Dependency.objects.all(), name)
    transitions = row.transitions.order_by("-at", "-id")[:TRANSITIONS]
    return {
        **state({column: getattr(row, column) for column in STATE_COLUMNS}),
        "declaration": DependencySpec.from_row(row).declaration(),
        "transitions": list(transitions.values("at", "from_state", "to_state", "reason")),
        "incidents": [incident_out(i) for i in row.incidents.select_related("dependency")[:20]],
        "acknowledged_by": row.acknowledged_by or None,
        "slo": slo_out(row.slo, row.slo_figures or {}),
    }


@router.post(
    "/{name}/probe",
    response={202: ProbeScheduled, 404: Problem},
    auth=WRITE,
    summary="Probe it on the prober's next tick",
)
def probe(request: HttpRequest, name: str = Name, payload: ProbeRequest | None = None) -> Status:
    now = timezone.now()
    with transaction.atomic():
        row = _active(Dependency.objects.select_for_update().only("id", "archived_at"), name)
        Dependency.objects.filter(pk=row.pk).update(next_due_at=now)
        reason = payload.reason if payload else ""
        audit.record_request(
            request, f"asked for a probe of {name!r}" + (f": {reason}" if reason else "")
        )
    return Status(202, {"name": name, "due_at": now})


@router.post(
    "/{name}/acknowledge",
    response={200: Acknowledged, 404: Problem, 409: Problem},
    auth=WRITE,
    summary="Acknowledge its outage: reminders stop until it is back up",
)
def acknowledge_outage(
    request: HttpRequest, name: str = Name, payload: AcknowledgeRequest | None = None
) -> Any:
    note = payload.note if payload else ""
    try:
        with transaction.atomic():
            done = acknowledge(name, audit.who(request), note)
            audit.record_request(request, f"acknowledged {name!r}" + (f": {note}" if note else ""))
    except Dependency.DoesNotExist as exc:
        raise Http404(f"no active dependency named {name!r}") from exc
    except NotDown as exc:
        return Status(409, {"error": str(exc)})
    return {"name": name, "acknowledged_by": done.by, "acknowledged_at": done.at}


def _active(rows: Any, name: str) -> Dependency:
    row = rows.filter(name=name).first()
    if row is None:
        raise Http404(f"no dependency named {name!r}")
    if row.archived_at is not None:
        raise Http404(f"{name!r} is archived: no longer declared nor probed")
    return row
