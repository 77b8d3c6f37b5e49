"""Whether the prober has gone quiet: nothing recorded for longer than it may take.

/health/ready fails on it, /health/dependencies adds `"stale": true` and the status page says
"these states are from 16:54": the states shown are the last the prober recorded, and
without this they would read as current.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

# Without SEAHEALTH_READY_MAX_AGE, the prober counts as running when it recorded a probe
# within this many of the shortest interval (plus a few seconds for the tick).
INTERVALS = 3
TICK_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True)
class Silence:
    since: datetime | None  # the newest check recorded; None: none ever was
    age: timedelta | None
    max_age: timedelta


def max_age(shortest_interval: timedelta | None) -> timedelta:
    """SEAHEALTH_READY_MAX_AGE, or three of the shortest interval and a tick's margin."""
    if settings.SEAHEALTH_READY_MAX_AGE is not None:
        return settings.SEAHEALTH_READY_MAX_AGE
    shortest = max(shortest_interval or timedelta(0), timedelta(seconds=1))
    return shortest * INTERVALS + TICK_MARGIN


def measure(
    newest: datetime | None, shortest_interval: timedelta | None, now: datetime
) -> Silence | None:
    """The silence when the newest check is older than max_age (or there is none); None
    while the prober records."""
    limit = max_age(shortest_interval)
    if newest is not None and now - newest <= limit:
        return None
    return Silence(newest, now - newest if newest else None, limit)


def stale(
    newest: datetime | None, shortest_interval: timedelta | None, now: datetime
) -> Silence | None:
    """The silence, when the states shown are the prober's last and it has gone quiet since;
    None before anything was recorded (every status says unknown then: nothing frozen can
    pass for current)."""
    return None if newest is None else measure(newest, shortest_interval, now)
