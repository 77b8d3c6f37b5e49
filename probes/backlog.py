"""How far behind the prober runs: the dependencies due and not yet claimed, and how late.

A claim moves a dependency's next_due_at one interval ahead (scheduler.py), and a dependency
whose breaker is open is due at its trial (recording.py). So an active row still due more
than grace() after its time is one no claim has taken: more is due than the prober probes,
and that dependency is probed less often than it declares. Read from the rows, so every
process (runprobes, a Celery worker, a web process) gets the same answer, and nothing needs
to be kept anywhere.

Light on purpose: the web processes import it, and must not load the engine's HTTP client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from probes.durations import rough_duration
from probes.models import Dependency

log = logging.getLogger(__name__)

# A row comes due between two ticks and is claimed at the next one, up to a tick later; the
# claim itself may wait its turn (SQLite's one writer, a Celery worker to run dispatch_due).
CLAIM_SLACK_SECONDS = 1.0
# While the prober stays behind, its WARNING is repeated this often, never once per tick.
WARN_EVERY_SECONDS = 60.0


def grace() -> timedelta:
    """How long past its due time a dependency may wait before it counts as overdue: one
    tick (SEAHEALTH_TICK_SECONDS) and CLAIM_SLACK_SECONDS."""
    return timedelta(seconds=settings.SEAHEALTH_TICK_SECONDS + CLAIM_SLACK_SECONDS)


@dataclass(frozen=True)
class Backlog:
    count: int  # active dependencies overdue: due for longer than grace()
    lag_seconds: float  # how long the most overdue of them has been due; 0 when none is

    @classmethod
    def of(cls, count: int, oldest: datetime | None, now: datetime) -> Backlog:
        """`count` overdue, the most overdue of them due since `oldest`."""
        if not count or oldest is None:
            return cls(0, 0.0)
        return cls(count, round(max((now - oldest).total_seconds(), 0.0), 3))

    @property
    def summary(self) -> str:
        """As the log, the page and /health/ready say it: "3 dependencies overdue, the oldest
        by 2 min"."""
        noun = "dependency" if self.count == 1 else "dependencies"
        return f"{self.count} {noun} overdue, the oldest by {rough_duration(self.lag_seconds)}"


def measure(now: datetime | None = None) -> Backlog:
    """The backlog now, in one query on the scheduler's index (active rows by next_due_at)."""
    now = now or timezone.now()
    overdue = Dependency.objects.active().filter(next_due_at__lt=now - grace())
    found = overdue.aggregate(count=Count("*"), oldest=Min("next_due_at"))
    return Backlog.of(found["count"], found["oldest"], now)


@dataclass
class BacklogWarnings:
    """What a prober says of its backlog: a WARNING when it falls behind, again every `every`
    seconds while it stays behind, and a line when it has caught up. One per prober process,
    which calls check() every tick."""

    every: float = WARN_EVERY_SECONDS
    clock: Callable[[], float] = time.monotonic
    _behind_since: float | None = field(default=None, init=False)
    _warned_at: float | None = field(default=None, init=False)

    def check(self, now: datetime | None = None) -> Backlog:
        """Measure the backlog (one query) and say so when it is due; the backlog."""
        found = measure(now)
        self.report(found)
        return found

    def report(self, found: Backlog) -> None:
        moment = self.clock()
        if found.count:
            self._behind(found, moment)
        elif self._behind_since is not None:
            # Only an episode that was told of gets its end told: a short one between two
            # warnings stays quiet at both ends.
            if self._warned_at is not None and self._warned_at >= self._behind_since:
                lasted = rough_duration(moment - self._behind_since)
                log.warning("the prober has caught up: nothing overdue (behind for %s)", lasted)
            self._behind_since = None

    def _behind(self, found: Backlog, moment: float) -> None:
        if self._behind_since is None:
            self._behind_since = moment
        if self._warned_at is not None and moment - self._warned_at < self.every:
            return
        self._warned_at = moment
        lasted = moment - self._behind_since
        still = f"still behind (for {rough_duration(lasted)})" if lasted else "behind"
        log.warning(
            "the prober is %s: %s; more is due than it probes, so dependencies are probed "
            "less often than declared",
            still,
            found.summary,
        )
