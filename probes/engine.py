"""Runs one batch of probes concurrently, each under its own deadline.

No Django here: the engine takes Jobs (plain values) and returns Outcomes, so it is the
same whether runprobes or a Celery worker calls it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from probes import kinds, leftovers, placeholders, tls
from probes.context import ProbeContext, open_batch
from probes.dependency_spec import DependencySpec
from probes.durations import format_duration
from probes.outcomes import ErrorClass, Outcome, ProbeError
from probes.redaction import Secrets

log = logging.getLogger(__name__)


# A call on a peer, as a probe is: (the kind's Spec, resolved; the context) -> Outcome.
Call = Callable[[Any, ProbeContext], Awaitable[Outcome]]
# How a pool's judge asks a member more: that call run on it, as the engine runs probes.
Ask = Callable[["Job", Call], Awaitable[Outcome]]
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One dependency to probe, as declared (its ${VAR} placeholders are still there), and
    when to start it (None: at once)."""

    dependency_id: int
    spec: DependencySpec
    start_at: datetime | None = None


async def run_batch(
    jobs: Sequence[Job], environ: Mapping[str, str] | None = None
) -> list[tuple[Job, Outcome]]:
    """Every job's outcome; the batch takes as long as its slowest deadline, no longer."""
    if not jobs:
        return []
    environ = os.environ if environ is None else environ
    # A kind no longer known fails its own probes, not the batch.
    for kind in {job.spec.kind for job in jobs} & kinds.KINDS.keys():
        kinds.prepare(kind)
    async with open_batch(max_connections=len(jobs)) as batch:
        batch.prepare({job.spec.ca_file or None for job in jobs})

        def context(job: Job) -> ProbeContext:
            return batch.probe_context(job.spec.ca_file or None, job.spec.timeout)

        done = await asyncio.gather(*(run_unit(unit, context, environ) for unit in units(jobs)))
    return [pair for unit in done for pair in unit]


def units(items: Iterable[T], declared: Callable[[T], Any] = lambda job: job.spec) -> list[list[T]]:
    """The items cut into what is probed together: a pool's members (kinds.pool_judge), or a
    job alone; in the order each unit first appears. `declared(item)` has its kind and pool
    (a Job's spec, or a Dependency row)."""
    found: dict[Any, list[T]] = {}
    for item in items:
        spec = declared(item)
        key = (spec.kind, spec.pool) if spec.pool else id(item)
        found.setdefault(key, []).append(item)
    return list(found.values())


async def run_unit(
    jobs: Sequence[Job], context: Callable[[Job], ProbeContext], environ: Mapping[str, str]
) -> list[tuple[Job, Outcome]]:
    """A unit's outcomes (units()): its probes at once, each under its own deadline; then,
    for a pool, each member judged against the others (the kind's judge_pool, which may ask
    the members more, each again under its deadline)."""
    outcomes = list(await asyncio.gather(*(run_one(job, context(job), environ) for job in jobs)))
    spec = jobs[0].spec
    judge = kinds.pool_judge(spec.kind) if spec.pool and spec.kind in kinds.KINDS else None
    if judge is not None:

        def ask(job: Job, call: Call) -> Awaitable[Outcome]:
            return run_one(job, context(job), environ, call)

        try:
            outcomes = await judge(jobs, outcomes, ask)
        except Exception:
            log.exception("judging the pool %s crashed (a bug in seahealth)", spec.pool)
    return list(zip(jobs, outcomes, strict=True))


def run_batch_sync(
    jobs: Sequence[Job], environ: Mapping[str, str] | None = None
) -> list[tuple[Job, Outcome]]:
    """run_batch in an event loop of its own (a Celery task, manage.py probe), which ends
    with it: what the probes left to do (a canary to delete) gets leftovers.GRACE first."""

    async def run() -> list[tuple[Job, Outcome]]:
        outcomes = await run_batch(jobs, environ)
        await leftovers.settle()
        return outcomes

    return asyncio.run(run())


async def run_one(
    job: Job, ctx: ProbeContext, environ: Mapping[str, str], call: Call | None = None
) -> Outcome:
    """The job's outcome, the probe started when the job says; with `call`, the outcome of
    that call on the job's peer instead of its kind's probe (a pool's second round)."""
    if job.start_at is not None:
        delay = (job.start_at - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
    secrets = Secrets()
    declared = job.spec
    try:
        kind = kinds.kind(declared.kind)
        fields = declared.target_fields()
        resolved, substituted = placeholders.resolve(fields, environ)
        secrets = Secrets.of_spec(fields, resolved, substituted)
        spec = kind.Spec(**resolved)
        ctx.started = time.perf_counter()
        # The deadline is enforced here, outside the probe: a peer that never answers costs
        # this probe its timeout and no other probe anything.
        async with asyncio.timeout(declared.timeout):
            outcome = await (call or kind.probe)(spec, ctx)
    except TimeoutError:
        hung = [step.name for step in ctx.steps if not step.ok]
        outcome = Outcome(
            error_class=ErrorClass.TIMEOUT,
            detail=f"no answer within {format_duration(declared.timeout)}"
            + (f" ({hung[-1]})" if hung else ""),
        )
    except placeholders.UnsetVariable as exc:
        outcome = Outcome(error_class=ErrorClass.CONFIG, detail=str(exc))
    except ProbeError as exc:
        outcome = Outcome.failure(exc)
    except Exception as exc:  # noqa: BLE001 - the one boundary: a probe crash is a recorded failure
        log.error(
            "probe of %s crashed (a bug in seahealth, not in the dependency):\n%s",
            declared.name,
            secrets.scrub("".join(traceback.format_exception(exc))),
        )
        outcome = Outcome(
            error_class=ErrorClass.INTERNAL,
            detail=f"the probe crashed ({type(exc).__name__}); see the prober's log",
        )
    finally:
        ctx.release()  # cancelled too: a long-lived batch must not count it as running
    return _finish(declared, outcome, ctx, secrets)


def _finish(
    declared: DependencySpec, outcome: Outcome, ctx: ProbeContext, secrets: Secrets
) -> Outcome:
    """Stamp time, latency and steps; add the warnings every kind shares; scrub secrets."""
    now = datetime.now(UTC)
    latency = outcome.latency_ms
    if latency is None:
        latency = (time.perf_counter() - ctx.started) * 1000
    warnings = list(outcome.warnings)
    if outcome.ok:
        if declared.max_latency is not None and latency > declared.max_latency * 1000:
            limit = format_duration(declared.max_latency)
            warnings.append(f"slow: answered in {latency:.0f} ms, over max_latency {limit}")
        expiry = tls.expiry_warning(outcome.observations, declared.cert_expiry_warn, now)
        if expiry:
            warnings.append(expiry)
    failing = outcome.error_class is not ErrorClass.RATE_LIMITED or (
        declared.rate_limited_is == "down"
    )
    if not failing:
        warnings.append(f"rate limited: {outcome.detail}")
    return dataclasses.replace(
        outcome,
        detail=secrets.scrub(outcome.detail)[:500],
        warnings=tuple(secrets.scrub(warning) for warning in warnings),
        observations=secrets.scrub_value(outcome.observations),
        # A failure has no latency worth charting: a refusal takes 1 ms, a timeout the timeout.
        latency_ms=round(latency, 3) if outcome.ok else None,
        checked_at=now,
        steps=tuple(ctx.steps),
        failing=failing,
    )
