"""/health/* for load balancers and orchestrators: the stored state, one query, no probing.

Two formats of the same answer, with the same status codes: DESIGN.md's JSON, and, for
`Accept: application/health+json`, the IETF draft's (draft-inadarei-api-health-check).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Max, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from probes.models import Dependency
from probes.statuses import ServiceStatus, Status, service_status

HEALTH_JSON = "application/health+json"
# What the endpoints read: the current state carried by each row.
STATE_COLUMNS = (
    "name",
    "kind",
    "critical",
    "status",
    "status_since",
    "breaker_state",
    "last_latency_ms",
    "last_checked_at",
    "last_error",
    "last_warnings",
)
# The draft's words for our statuses.
DRAFT_STATUS = {
    ServiceStatus.HEALTHY: "pass",
    ServiceStatus.DEGRADED: "warn",
    ServiceStatus.UNHEALTHY: "fail",
    Status.UP: "pass",
    Status.DEGRADED: "warn",
    Status.UNKNOWN: "warn",
    Status.DOWN: "fail",
}
# The draft's componentType: a store of data, or some other component.
COMPONENT_TYPES = {"s3": "datastore"}
CRITICAL_VALUES = {"1": True, "true": True, "0": False, "false": False}


def timestamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def dependency_json(row: dict[str, Any]) -> dict[str, Any]:
    """One dependency as DESIGN.md shows it."""
    body = {
        "status": row["status"],
        "critical": row["critical"],
        "kind": row["kind"],
        "breaker": row["breaker_state"],
        "latency_ms": _latency(row),
        "last_checked": timestamp(row["last_checked_at"]),
        "error": row["last_error"] or None,
    }
    if row["last_warnings"]:
        body["warnings"] = row["last_warnings"]
    if row["status"] != Status.UP:
        body["since"] = timestamp(row["status_since"])
    return body


def draft_check(row: dict[str, Any]) -> dict[str, Any]:
    """One dependency as a check of the IETF draft."""
    status = Status(row["status"])
    output = row["last_error"] or "; ".join(row["last_warnings"])
    if status is Status.UNKNOWN:
        output = "not probed yet"
    return {
        "componentId": row["name"],
        "componentType": COMPONENT_TYPES.get(row["kind"], "component"),
        "observedValue": _latency(row),
        "observedUnit": "ms",
        "status": DRAFT_STATUS[status],
        "time": timestamp(row["last_checked_at"]),
        "output": output,
    }


def _latency(row: dict[str, Any]) -> float | None:
    latency = row["last_latency_ms"]
    return round(latency, 1) if latency is not None else None


def _answer(request: HttpRequest, body: dict[str, Any], status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    if HEALTH_JSON in request.headers.get("Accept", ""):
        response["Content-Type"] = HEALTH_JSON
    response["Cache-Control"] = "no-store"
    response["Vary"] = "Accept"
    return response


def _refusal(request: HttpRequest, status: int, reason: str) -> JsonResponse:
    return _answer(
        request, {"status": "fail" if status >= 500 else "error", "error": reason}, status
    )


@require_safe
def dependencies(request: HttpRequest) -> JsonResponse:
    critical_only = CRITICAL_VALUES.get(request.GET.get("critical", "0").lower())
    if critical_only is None:
        return _refusal(request, 400, "critical must be 1, true, 0 or false")
    rows = Dependency.objects.active().order_by("name")
    if critical_only:
        rows = rows.filter(critical=True)
    rows = list(rows.values(*STATE_COLUMNS))
    status = service_status((Status(row["status"]), row["critical"]) for row in rows)
    code = 503 if status is ServiceStatus.UNHEALTHY else 200
    if HEALTH_JSON in request.headers.get("Accept", ""):
        body = {
            "status": DRAFT_STATUS[status],
            "description": f"dependencies of this service: {status}",
            "checks": {f"{row['name']}:responseTime": [draft_check(row)] for row in rows},
        }
    else:
        body = {
            "status": status,
            "checked_at": timestamp(timezone.now()),
            "dependencies": {row["name"]: dependency_json(row) for row in rows},
        }
    return _answer(request, body, code)


@require_safe
def dependency(request: HttpRequest, name: str) -> JsonResponse:
    """One dependency, for a load balancer that cares about that one: 503 while it is down."""
    row = Dependency.objects.filter(name=name).values(*STATE_COLUMNS, "archived_at").first()
    if row is None:
        return _refusal(request, 404, f"no dependency named {name!r}")
    if row["archived_at"] is not None:
        return _refusal(request, 404, f"{name!r} is archived: no longer declared nor probed")
    code = 503 if row["status"] == Status.DOWN else 200
    if HEALTH_JSON in request.headers.get("Accept", ""):
        check = draft_check(row)
        body = {"status": check["status"], "checks": {f"{name}:responseTime": [check]}}
    else:
        body = {"name": name, "checked_at": timestamp(timezone.now()), **dependency_json(row)}
    return _answer(request, body, code)


@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return _answer(request, {"status": "pass"}, 200)


# Without SEAHEALTH_READY_MAX_AGE, the prober counts as running when it recorded a probe
# within this many of the shortest interval (plus a few seconds for the tick).
READY_INTERVALS = 3


@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """Ready: the database answers and the prober recorded a probe recently."""
    try:
        newest = Dependency.objects.active().aggregate(
            last=Max("last_checked_at"), shortest=Min("interval")
        )
    except DatabaseError as exc:
        return _refusal(request, 503, f"the database does not answer: {exc}")
    if newest["shortest"] is None:
        return _answer(request, {"status": "pass", "output": "no dependencies declared"}, 200)
    max_age = settings.SEAHEALTH_READY_MAX_AGE
    if max_age is None:
        max_age = max(newest["shortest"], timedelta(seconds=1)) * READY_INTERVALS
        max_age += timedelta(seconds=5)
    if newest["last"] is None or timezone.now() - newest["last"] > max_age:
        since = timestamp(newest["last"]) or "it started"
        reason = f"the prober has recorded nothing since {since} (max age {max_age})"
        return _answer(request, {"status": "fail", "output": reason}, 503)
    return _answer(request, {"status": "pass"}, 200)
