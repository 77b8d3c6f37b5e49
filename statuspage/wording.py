"""What customers read of a status: the words, the icon beside them (never colour alone)
and the colour of a badge. One vocabulary for the public page, its feed and the badges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from probes.statuses import ServiceStatus, Status, service_status


@dataclass(frozen=True)
class Wording:
    state: str  # the CSS class: up, degraded, down, unknown
    words: str
    icon: str
    color: str  # shields.io's name for the badge's colour


STATUSES = {
    Status.UP: Wording("up", "operational", "✓", "brightgreen"),
    Status.DEGRADED: Wording("degraded", "degraded", "!", "yellow"),
    Status.DOWN: Wording("down", "down", "✕", "red"),
    Status.UNKNOWN: Wording("unknown", "not checked yet", "?", "lightgrey"),
}

SERVICE_OPERATIONAL = Wording("up", "all systems operational", "✓", "brightgreen")
SERVICE_DEGRADED = Wording("degraded", "degraded performance", "!", "yellow")
SERVICE_PARTIAL = Wording("degraded", "partial outage", "!", "orange")
SERVICE_MAJOR = Wording("down", "major outage", "✕", "red")
SERVICE_UNKNOWN = Wording("unknown", "not checked yet", "?", "lightgrey")
NOTHING_LISTED = Wording("unknown", "no services listed", "?", "lightgrey")


def of_status(status: str) -> Wording:
    return STATUSES.get(Status(status), STATUSES[Status.UNKNOWN])


def of_service(members: Iterable[tuple[str, bool]]) -> Wording:
    """The service as customers read it, from its public entries' (status, critical):
    a critical one down is a major outage, as /health/dependencies calls it unhealthy."""
    pairs = [(Status(status), critical) for status, critical in members]
    if not pairs:
        return NOTHING_LISTED
    if all(status is Status.UNKNOWN for status, _ in pairs):
        return SERVICE_UNKNOWN
    overall = service_status(pairs)
    if overall is ServiceStatus.UNHEALTHY:
        return SERVICE_MAJOR
    if overall is ServiceStatus.DEGRADED:
        down = any(status is Status.DOWN for status, _ in pairs)
        return SERVICE_PARTIAL if down else SERVICE_DEGRADED
    return SERVICE_OPERATIONAL
