"""Statuses of a dependency and of the whole service, as DESIGN.md defines them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from probes.breaker import State
from probes.outcomes import Result


class Status(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


class ServiceStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


def dependency_status(breaker_state: State, last_result: Result | None) -> Status:
    """Down while the breaker is open or half-open; degraded on failures below its threshold."""
    if last_result is None:
        return Status.UNKNOWN
    if breaker_state is not State.CLOSED:
        return Status.DOWN
    if last_result is Result.SUCCESS:
        return Status.UP
    return Status.DEGRADED


def service_status(dependencies: Iterable[tuple[Status, bool]]) -> ServiceStatus:
    """From (status, critical) pairs: unhealthy when a critical one is down."""
    overall = ServiceStatus.HEALTHY
    for status, critical in dependencies:
        if status is Status.DOWN and critical:
            return ServiceStatus.UNHEALTHY
        if status in (Status.DOWN, Status.DEGRADED):
            overall = ServiceStatus.DEGRADED
    return overall
