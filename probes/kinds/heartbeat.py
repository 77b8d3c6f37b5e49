"""Heartbeats: jobs that report in (a nightly backup, a cron job, a queue consumer), and are
`down` when they stop.

Nothing is probed: the job pings `/ping/<token>` (inbound/views.py), the prober applies the
pings it stored (inbound/applying.py), and every interval judges what was last reported
(`judge` below): `up` while pings come on time, `down` once `expect_every` + `grace` (or,
with a cron `schedule`, the next run it expected + `grace`) passes without one, `down` when
the job reported a failure, and `unknown` before the first ping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from probes.context import ProbeContext
from probes.durations import format_duration
from probes.excerpts import shorten
from probes.fields import Fields
from probes.outcomes import ErrorClass, Outcome, ProbeError

# Not probed: it reports in (the scheduler leaves it to inbound/applying.py).
PASSIVE = True
DEFAULT_GRACE = 300.0


@dataclass(frozen=True, kw_only=True)
class Spec:
    # `${VAR}`: the ping token, from the environment; empty: `manage.py heartbeat_token`
    # makes one, stored hashed.
    token: str = ""
    expect_every: float | None = field(default=None, metadata={"duration": True})
    grace: float = field(default=DEFAULT_GRACE, metadata={"duration": True})
    schedule: str = ""  # cron: when the job runs, for jobs that run at fixed times
    timezone: str = "UTC"  # the schedule's


@dataclass(frozen=True)
class Reported:
    """What the job last reported, as the prober applied it (inbound.models.InboundState)."""

    last_signal_at: datetime | None = None
    last_success_at: datetime | None = None
    failed: bool = False  # the last report was a failure (/fail, or an exit status not 0)
    exit_code: int | None = None
    detail: str = ""
    run_time_ms: float | None = None  # from /start to its success


def parse(fields: Fields) -> Spec:
    token = fields.secret("token", "")
    expect_every = fields.duration("expect_every", None)
    schedule = fields.string("schedule", "")
    timezone = fields.string("timezone", "UTC")
    if schedule and expect_every is not None:
        fields.problem("schedule", "expect_every and schedule together: choose one")
    elif not schedule and expect_every is None:
        fields.problem("expect_every", "required (or a cron `schedule`)")
    try:
        zone = ZoneInfo(timezone) if isinstance(timezone, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        fields.problem("timezone", f"unknown time zone {timezone!r} (an IANA name: Europe/Paris)")
        zone = None
    if schedule and zone is not None:
        try:
            next(CronSim(schedule, datetime.now(zone)))  # some errors show at the first run
        except (CronSimError, StopIteration) as exc:
            fields.problem("schedule", f"not a cron expression ({exc}): '0 3 * * *' is 03:00")
    return Spec(
        token=token,
        expect_every=expect_every,
        grace=fields.duration("grace", DEFAULT_GRACE),
        schedule=schedule,
        timezone=timezone,
    )


def describe(spec: Spec) -> str:
    return f"pings {_expected(spec)}, grace {format_duration(spec.grace)}"


def _expected(spec: Spec) -> str:
    """When pings are expected, in words: `every 1h`, `cron '0 3 * * *' (Europe/Paris)`."""
    if spec.schedule:
        return f"cron '{spec.schedule}' ({spec.timezone})"
    return f"every {format_duration(spec.expect_every or 0)}"


def speaks_tls(spec: Spec) -> bool:
    return False  # it is spoken to


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    raise ProbeError(ErrorClass.CONFIG, "a heartbeat is not probed: it pings /ping/<token>")


def expected_by(spec: Spec, since: datetime) -> datetime:
    """When the next ping is due at the latest, after one at `since`: the interval, or the
    schedule's next run, then the grace."""
    if spec.schedule:
        zone = ZoneInfo(spec.timezone)
        next_run = next(CronSim(spec.schedule, since.astimezone(zone)))
        return next_run + timedelta(seconds=spec.grace)
    return since + timedelta(seconds=(spec.expect_every or 0) + spec.grace)


def judge(spec: Spec, reported: Reported, now: datetime) -> Outcome | None:
    """The heartbeat's state now; None before the first ping (unknown)."""
    if reported.last_signal_at is None:
        return None
    if reported.failed:
        code = f" (exit status {reported.exit_code})" if reported.exit_code is not None else ""
        said = f": {shorten(reported.detail, 300)}" if reported.detail.strip() else ""
        return Outcome(
            error_class=ErrorClass.UNEXPECTED_RESPONSE,
            detail=f"the job reported a failure{code}{said}",
            checked_at=now,
        )
    since = reported.last_success_at or reported.last_signal_at
    deadline = expected_by(spec, since)
    observations = {"last_ping": _shown(since), "expected_by": _shown(deadline)}
    if now > deadline:
        return Outcome(
            error_class=ErrorClass.TIMEOUT,
            detail=f"no ping since {_shown(since)}: expected {_expected(spec)}, grace "
            f"{format_duration(spec.grace)}",
            observations=observations,
            checked_at=now,
        )
    if reported.run_time_ms is not None:
        observations["run_time_ms"] = round(reported.run_time_ms, 3)
    return Outcome(observations=observations, latency_ms=reported.run_time_ms, checked_at=now)


def _shown(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S UTC")
