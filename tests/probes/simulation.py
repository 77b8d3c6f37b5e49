"""The prober's own scheduling and recording, run in frozen time: each check is claimed by
the real scheduler when due (the breaker's trials included) and recorded by the real
recording; only the peer is a function of time. An hour of checks takes a second or two."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db.models import Min
from freezegun import freeze_time

from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import claim_due

# Whether the named dependency's peer answers at a moment.
PeerUp = Callable[[str, datetime], bool]


def outcome(up: bool, at: datetime) -> Outcome:
    if up:
        return Outcome(latency_ms=10.0, checked_at=at)
    return Outcome(error_class=ErrorClass.CONNECT, detail="connection refused", checked_at=at)


def run(
    peer_up: PeerUp,
    since: datetime,
    until: datetime,
    stopped: Sequence[tuple[datetime, datetime]] = (),
) -> int:
    """Probe every active dependency as the prober would from `since` to `until`, except
    while it is `stopped`; how many checks were recorded."""
    now, checks = since, 0
    with freeze_time(now) as clock:
        while now < until:
            pause = next((end for start, end in stopped if start <= now < end), None)
            if pause is not None:
                now = pause
                clock.move_to(now)
                continue
            jobs = claim_due(1000, now)
            if jobs:
                record([(job, outcome(peer_up(job.spec.name, now), now)) for job in jobs])
                checks += len(jobs)
            due = Dependency.objects.active().aggregate(due=Min("next_due_at"))["due"]
            now = max(due, now + timedelta(milliseconds=1)) if due else until
            clock.move_to(now)
    return checks


def duty_cycle(up_seconds: float, down_seconds: float, since: datetime) -> Callable[..., bool]:
    """Up for `up_seconds`, then down for `down_seconds`, from `since` on, over and over."""
    cycle = up_seconds + down_seconds

    def up(name: str, at: datetime) -> bool:
        return (at - since).total_seconds() % cycle < up_seconds

    return up
