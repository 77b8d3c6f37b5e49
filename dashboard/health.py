"""/health/* for load balancers and orchestrators: the stored state, one query, no probing.

Two formats of the same answer, with the same status codes: DESIGN.md's JSON, and, for
`Accept: application/health+json`, the IETF draft's (draft-inadarei-api-health-check).

Load balancers ask many times a second. Each process keeps the dependencies' state it last
read, and the answers it rendered from it, as a Snapshot. At most every
SEAHEALTH_HEALTH_RECHECK_SECONDS (0.1 s), a request asks the database for StateVersion's
token, which recording and sync change with the state, and reads the state again when the
token has moved. So most requests make no query, one in a while makes one small query, and
every worker on every host answers from the same state, a tenth of a second late at most.

/health/ready also asks whether the prober is behind: the snapshot's next due times against
a fresh clock, no query. A claim moves next_due_at without moving the token, so a dependency
claimed since shows as due until the next recording: a probe's timeout at most.

A maintenance window starts and ends while no token moves: a snapshot also expires at the
next start or end of a window, and is read again then.
"""

from __future__ import annotations

import json
import math
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property, wraps
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboard import database_failures, prober_silence
from probes import backlog, kinds, maintenance_reader
from probes.models import Dependency, StateVersion
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
    "interval",
    "next_due_at",
    "archived_at",
    "acknowledged_by",
    "acknowledged_at",
    "group",
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
PASS = b'{"status":"pass"}'
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
    if row["acknowledged_by"]:
        body["acknowledged_by"] = row["acknowledged_by"]
        body["acknowledged_at"] = timestamp(row["acknowledged_at"])
    if row["maintenance"] is not None:
        # Told, not hidden: the status above is still the truth a load balancer acts on.
        until = timestamp(row["maintenance"].until)
        body["maintenance"] = {"name": row["maintenance"].name, "until": until}
    return body


def draft_check(row: dict[str, Any]) -> dict[str, Any]:
    """One dependency as a check of the IETF draft."""
    status = Status(row["status"])
    output = row["last_error"] or "; ".join(row["last_warnings"])
    if status is Status.UNKNOWN:
        output = "not probed yet"
    return {
        "componentId": row["name"],
        "componentType": _component_type(row["kind"]),
        "observedValue": _latency(row),
        "observedUnit": "ms",
        "status": DRAFT_STATUS[status],
        "time": timestamp(row["last_checked_at"]),
        "output": output,
    }


def _component_type(kind: str) -> str:
    # The draft's componentType: a kind says when it is a store of data.
    return kinds.component_type(kind) if kind in kinds.KINDS else "component"


def _latency(row: dict[str, Any]) -> float | None:
    latency = row["last_latency_ms"]
    return round(latency, 1) if latency is not None else None


class Report:
    """/health/dependencies over some of a snapshot's rows: its status and its two bodies,
    each rendered once."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.status = service_status((Status(row["status"]), row["critical"]) for row in rows)
        self.code = 503 if self.status is ServiceStatus.UNHEALTHY else 200

    @cached_property
    def dependencies_json(self) -> bytes:
        """DESIGN.md's "dependencies" object (the whole answer also says when it was made)."""
        return _json({row["name"]: dependency_json(row) for row in self.rows})

    @cached_property
    def draft_json(self) -> bytes:
        checks = {f"{row['name']}:responseTime": [draft_check(row)] for row in self.rows}
        return _json(
            {
                "status": DRAFT_STATUS[self.status],
                "description": f"dependencies of this service: {self.status}",
                "checks": checks,
            }
        )


class Snapshot:
    """The dependencies' state as of one StateVersion token, and the reports made from it."""

    def __init__(self, token: int | None, confirmed: float) -> None:
        self.token = token
        # When the token was last found unmoved (time.monotonic()); never, without a token.
        self.confirmed = confirmed if token is not None else -math.inf
        rows = Dependency.objects.order_by("name").values(*STATE_COLUMNS)
        now = timezone.now()
        windows = maintenance_reader.InEffect.read(maintenance_reader.load(), now, token)
        # When the windows in effect change, and so what this snapshot shows.
        self.expires = windows.expires
        # The active dependencies by name, in name order.
        self.rows = {row["name"]: row for row in rows if row["archived_at"] is None}
        for row in self.rows.values():
            row["maintenance"] = windows.of(row)
        self.archived = frozenset(row["name"] for row in rows) - self.rows.keys()

    @cached_property
    def report(self) -> Report:
        return Report(list(self.rows.values()))

    @cached_property
    def critical_report(self) -> Report:
        return Report([row for row in self.rows.values() if row["critical"]])

    @cached_property
    def newest_check(self) -> datetime | None:
        return max(
            (row["last_checked_at"] for row in self.rows.values() if row["last_checked_at"]),
            default=None,
        )

    @cached_property
    def shortest_interval(self) -> timedelta | None:
        return min((row["interval"] for row in self.rows.values()), default=None)

    @cached_property
    def due_times(self) -> list[datetime]:
        """The active rows' next due times, soonest first."""
        return sorted(row["next_due_at"] for row in self.rows.values())

    def backlog(self, now: datetime) -> backlog.Backlog:
        """backlog.measure() from these rows at `now`, without a query."""
        due = self.due_times
        count = bisect_left(due, now - backlog.grace())
        return backlog.Backlog.of(count, due[0] if count else None, now)


_latest: Snapshot | None = None
_reading = threading.Lock()


def snapshot() -> Snapshot:
    """The state as the database has it, at most SEAHEALTH_HEALTH_RECHECK_SECONDS ago: this
    process's copy while it is that recent or the token has not moved (one query), else
    read again. Raises DatabaseError when the database fails."""
    global _latest
    latest = _unexpired(_latest)
    asked = time.monotonic()
    if latest is not None and asked - latest.confirmed < settings.SEAHEALTH_HEALTH_RECHECK_SECONDS:
        return latest
    token = StateVersion.current()
    if token is not None and latest is not None and latest.token == token:
        latest.confirmed = asked
        return latest
    with _reading:  # one thread reads; the others wait for its copy
        latest = _unexpired(_latest)
        if token is None or latest is None or latest.token != token:
            # Labelled with the token read before the rows: if the state moved meanwhile,
            # the next check reads it again.
            latest = _latest = Snapshot(token, asked)
    return latest


def _unexpired(latest: Snapshot | None) -> Snapshot | None:
    """`latest`, or None once a maintenance window started or ended since it was read."""
    return latest if latest is not None and timezone.now() < latest.expires else None


def forget_snapshot() -> None:
    """Drop this process's copy (tests start each from the database)."""
    global _latest
    _latest = None


def _json(body: Any) -> bytes:
    # Compact: a thousand dependencies are 150 KB, not 174 KB, on every request.
    return json.dumps(body, separators=(",", ":")).encode()


def _wants_draft(request: HttpRequest) -> bool:
    return HEALTH_JSON in request.headers.get("Accept", "")


def _answer(request: HttpRequest, body: bytes, status: int) -> HttpResponse:
    content_type = HEALTH_JSON if _wants_draft(request) else "application/json"
    response = HttpResponse(body, status=status, content_type=content_type)
    response["Cache-Control"] = "no-store"
    response["Vary"] = "Accept"
    return response


def _refusal(request: HttpRequest, status: int, reason: str) -> HttpResponse:
    body = {"status": "fail" if status >= 500 else "error", "error": reason}
    return _answer(request, _json(body), status)


def _from_state(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The view, given the snapshot; a 503 "database unavailable" when the database fails."""

    @require_safe
    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            state = snapshot()
        except DatabaseError as exc:
            # The driver's text names the host, port and database: the log has it.
            database_failures.failed(exc)
            return _refusal(request, 503, database_failures.UNAVAILABLE)
        database_failures.answered()
        return view(request, state, *args, **kwargs)

    return answer


@_from_state
def dependencies(request: HttpRequest, state: Snapshot) -> HttpResponse:
    critical_only = CRITICAL_VALUES.get(request.GET.get("critical", "0").lower())
    if critical_only is None:
        return _refusal(request, 400, "critical must be 1, true, 0 or false")
    report = state.critical_report if critical_only else state.report
    if _wants_draft(request):
        return _answer(request, report.draft_json, report.code)
    now = timezone.now()
    head = f'{{"status":"{report.status}","checked_at":"{timestamp(now)}",{_stale(state, now)}'
    head = f'{head}"dependencies":'.encode()
    return _answer(request, b"".join([head, report.dependencies_json, b"}"]), report.code)


def _stale(state: Snapshot, now: datetime) -> str:
    """`"stale":true` and the silence's age, when the prober has recorded nothing for longer
    than /health/ready allows: these states are its last, not current."""
    silence = prober_silence.stale(state.newest_check, state.shortest_interval, now)
    if silence is None or silence.age is None:
        return ""
    return f'"stale":true,"stale_seconds":{int(silence.age.total_seconds())},'


@_from_state
def dependency(request: HttpRequest, state: Snapshot, name: str) -> HttpResponse:
    """One dependency, for a load balancer that cares about that one: 503 while it is down."""
    row = state.rows.get(name)
    if row is None and name in state.archived:
        return _refusal(request, 404, f"{name!r} is archived: no longer declared nor probed")
    if row is None:
        return _refusal(request, 404, f"no dependency named {name!r}")
    code = 503 if row["status"] == Status.DOWN else 200
    if _wants_draft(request):
        check = draft_check(row)
        body = {"status": check["status"], "checks": {f"{name}:responseTime": [check]}}
    else:
        body = {"name": name, "checked_at": timestamp(timezone.now()), **dependency_json(row)}
    return _answer(request, _json(body), code)


@require_safe
def live(request: HttpRequest) -> HttpResponse:
    return _answer(request, PASS, 200)


@_from_state
def ready(request: HttpRequest, state: Snapshot) -> HttpResponse:
    """Ready: the database answers, the prober recorded a probe recently and is not behind."""
    if not state.rows:
        body = {"status": "pass", "output": "no dependencies declared"}
        return _answer(request, _json(body), 200)
    now = timezone.now()
    max_age = prober_silence.max_age(state.shortest_interval)
    silence = prober_silence.measure(state.newest_check, state.shortest_interval, now)
    if silence is not None:
        since = timestamp(silence.since) or "it started"
        reason = f"the prober has recorded nothing since {since} (max age {max_age})"
        return _answer(request, _json({"status": "fail", "output": reason}), 503)
    max_lag = settings.SEAHEALTH_READY_MAX_LAG or max_age
    behind = state.backlog(now)
    if behind.lag_seconds > max_lag.total_seconds():
        reason = f"the prober is behind: {behind.summary} (max lag {max_lag})"
        return _answer(request, _json({"status": "fail", "output": reason}), 503)
    return _answer(request, PASS, 200)
