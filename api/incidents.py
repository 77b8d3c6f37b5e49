"""/api/v1/incidents: every period a dependency spent down, open ones first, as
/incidents/ lists them (by group and month)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from api.auth import READ
from probes import incidents as incident_history
from probes.models import Incident

router = Router(tags=["incidents"])
LONGEST_PAGE = 500


class IncidentFilter(Schema):
    group: str = Field("", max_length=100, description="only this group's dependencies")
    month: str | None = Field(None, pattern=incident_history.MONTH, description="YYYY-MM")
    limit: int = Field(100, ge=1, le=LONGEST_PAGE, description="the newest this many")


class IncidentOut(Schema):
    id: int
    dependency: str
    group: str
    started_at: datetime
    ended_at: datetime | None = Field(description="null while it lasts")
    duration_seconds: float | None
    first_error: str
    last_error: str = Field(description="the failure before it ended; while open, the latest")


class IncidentList(Schema):
    incidents: list[IncidentOut]


def incident_out(row: Incident) -> dict[str, Any]:
    ended = row.ended_at
    return {
        "id": row.pk,
        "dependency": row.dependency.name,
        "group": row.dependency.group,
        "started_at": row.started_at,
        "ended_at": ended,
        "duration_seconds": (ended - row.started_at).total_seconds() if ended else None,
        "first_error": row.first_error,
        "last_error": row.last_error if ended else row.dependency.last_error,
    }


@router.get("", response=IncidentList, auth=READ, summary="Incidents, open ones first")
def list_incidents(request: HttpRequest, filters: Query[IncidentFilter]) -> dict[str, Any]:
    rows = incident_history.listed(group=filters.group, month=filters.month or "")
    return {"incidents": [incident_out(row) for row in rows[: filters.limit]]}
