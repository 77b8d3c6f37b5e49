"""/health/* for load balancers and orchestrators: the stored state, one query, no probing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.db.models import Max, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from probes.models import Dependency
from probes.statuses import ServiceStatus, Status, service_status

# What /health/dependencies reads: the current state carried by each row.
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


def timestamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def dependency_json(row: dict[str, Any]) -> dict[str, Any]:
    body = {
        "status": row["status"],
        "critical": row["critical"],
        "kind": row["kind"],
        "breaker": row["breaker_state"],
        "latency_ms": round(row["last_latency_ms"], 1)
        if row["last_latency_ms"] is not None
        else None,
        "last_checked": timestamp(row["last_checked_at"]),
        "error": row["last_error"] or None,
    }
    if row["last_warnings"]:
        body["warnings"] = row["last_warnings"]
    if row["status"] != Status.UP:
        body["since"] = timestamp(row["status_since"])
    return body


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def dependencies(request: HttpRequest) -> JsonResponse:
    rows = list(Dependency.objects.active().order_by("name").values(*STATE_COLUMNS))
    status = service_status((Status(row["status"]), row["critical"]) for row in rows)
    body = {
        "status": status,
        "checked_at": timestamp(timezone.now()),
        "dependencies": {row["name"]: dependency_json(row) for row in rows},
    }
    code = 503 if status is ServiceStatus.UNHEALTHY else 200
    return _no_store(JsonResponse(body, status=code))


@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return _no_store(JsonResponse({"status": "pass"}))


# The prober counts as running when it recorded a probe within this many of the shortest
# interval (or of the tick, for very short intervals).
READY_INTERVALS = 3


@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    try:
        newest = Dependency.objects.active().aggregate(
            last=Max("last_checked_at"), shortest=Min("interval")
        )
    except DatabaseError as exc:
        return _no_store(JsonResponse({"status": "fail", "reason": f"database: {exc}"}, status=503))
    if newest["shortest"] is None:
        return _no_store(JsonResponse({"status": "pass", "reason": "no dependencies declared"}))
    max_age = max(newest["shortest"], timedelta(seconds=1)) * READY_INTERVALS + timedelta(seconds=5)
    if newest["last"] is None or timezone.now() - newest["last"] > max_age:
        reason = (
            f"the prober has recorded nothing since {timestamp(newest['last']) or 'it started'}"
        )
        return _no_store(JsonResponse({"status": "fail", "reason": reason}, status=503))
    return _no_store(JsonResponse({"status": "pass"}))
