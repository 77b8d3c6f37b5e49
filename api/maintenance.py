"""/api/v1/maintenance: the windows in force (declared ones read-only), and ad-hoc ones
made and ended through the API ("silence payments for 1 h"). A POST body has the fields
of a window of dependencies.yaml, checked as the file's are."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Body, Field, Path, Router, Schema, Status

from api import audit
from api.auth import READ, WRITE
from api.dependencies import NAME_PATTERN, Problem
from probes.durations import format_duration
from probes.fields import Problem as DeclarationProblem
from probes.maintenance_declaration import parse_window
from probes.models import Dependency, MaintenanceWindow, StateVersion, WindowSource
from probes.sync import window_values

router = Router(tags=["maintenance"])
# A window as dependencies.yaml writes one, in JSON; read by the file's own parser.
WINDOW = Body(
    ...,
    description='{"name", "match": {"group"|"names"|"critical"}, "start", "end"} or '
    '{"name", "match", "schedule": {"rrule", "duration", "timezone"}}',
)


class Schedule(Schema):
    rrule: str
    duration: str
    timezone: str


class WindowOut(Schema):
    name: str
    source: str = Field(description="declared (in dependencies.yaml: read-only here) or api")
    match: dict[str, Any]
    start: datetime | None
    end: datetime | None
    schedule: Schedule | None


class BadWindow(Schema):
    error: str
    fields: list[dict[str, str]] = Field(description='each {"field", "in", "message"}')


class WindowList(Schema):
    windows: list[WindowOut]


def window_out(row: MaintenanceWindow) -> dict[str, Any]:
    schedule = None
    if row.rrule:
        duration = format_duration(row.duration.total_seconds())
        schedule = {"rrule": row.rrule, "duration": duration, "timezone": row.timezone}
    match = {("names" if key == "name" else key): value for key, value in row.match.items()}
    return {
        "name": row.name,
        "source": row.source,
        "match": match,
        "start": row.start,
        "end": row.end,
        "schedule": schedule,
    }


@router.get("", response=WindowList, auth=READ, summary="Maintenance windows in force")
def list_windows(request: HttpRequest) -> dict[str, Any]:
    rows = MaintenanceWindow.objects.filter(archived_at__isnull=True)
    return {"windows": [window_out(row) for row in rows]}


@router.post(
    "",
    response={201: WindowOut, 400: BadWindow, 409: Problem},
    auth=WRITE,
    summary="Make a window: {name, match, start, end} or {name, match, schedule}",
)
def make_window(request: HttpRequest, body: dict[str, Any] = WINDOW) -> Any:
    dependencies = list(Dependency.objects.active().only("name", "group", "critical", "kind"))
    window, problems = parse_window(body, dependencies, "the request body")
    if window is None:
        fields = [{"field": _path(p), "in": "body", "message": p.message} for p in problems]
        reasons = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return Status(400, {"error": f"bad request: {reasons}", "fields": fields})
    with transaction.atomic():
        taken = MaintenanceWindow.objects.filter(name=window.name, archived_at__isnull=True)
        if taken.exists():
            return Status(409, {"error": f"a window named {window.name!r} is in force already"})
        MaintenanceWindow.objects.filter(name=window.name, source=WindowSource.API).delete()
        row = MaintenanceWindow.objects.create(
            name=window.name, source=WindowSource.API, **window_values(window)
        )
        audit.record_request(request, f"made the maintenance window {window.name!r}")
        StateVersion.bump()  # every reader sees it at once
    return Status(201, window_out(row))


def _path(problem: DeclarationProblem) -> str:
    """Where in the body a problem is, dotted: `end`, `match`, `schedule.rrule`."""
    section = problem.where.partition(", ")[2]
    return ".".join(part for part in (section, problem.field or "") if part)


@router.delete(
    "/{name}",
    response={200: WindowOut, 404: Problem, 409: Problem},
    auth=WRITE,
    summary="End a window made through the API",
)
def end_window(request: HttpRequest, name: str = Path(..., pattern=NAME_PATTERN)) -> Any:
    with transaction.atomic():
        row = (
            MaintenanceWindow.objects.select_for_update()
            .filter(name=name, archived_at__isnull=True)
            .first()
        )
        if row is None:
            return Status(404, {"error": f"no window named {name!r} is in force"})
        if row.source == WindowSource.DECLARED:
            return Status(
                409, {"error": f"{name!r} is declared in dependencies.yaml: remove it there"}
            )
        # Archived, not deleted: the timeline of the dependencies it covered keeps it.
        row.archived_at = timezone.now()
        row.save(update_fields=["archived_at"])
        audit.record_request(request, f"ended the maintenance window {name!r}")
        StateVersion.bump()
    return window_out(row)
