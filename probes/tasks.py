"""Celery tasks: thin wrappers over scheduler, engine and recording.

Beat sends dispatch_due every second; it claims what is due and fans the claim out as
probe_batch tasks that any worker on any machine runs. Every ten minutes it sends
prune_history, which deletes history past its retention.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from kombu.exceptions import ChannelError

from inbound import applying as reports_in
from probes import error_budgets, retention, rollups
from probes.backlog import BacklogWarnings
from probes.declaration_watcher import DeclarationWatcher
from probes.engine import run_batch_sync
from probes.recording import record
from probes.scheduler import batches, claim_due, load_jobs

# One per worker process: it remembers what it last synced, so an unchanged file costs a stat().
_watcher: DeclarationWatcher | None = None
# One per worker process too: each worker that runs dispatch_due warns once a minute at most.
_backlog_warnings = BacklogWarnings()


def _declarations() -> DeclarationWatcher:
    global _watcher
    if _watcher is None:
        _watcher = DeclarationWatcher.from_settings()
    return _watcher


@shared_task(ignore_result=True)
def dispatch_due() -> int:
    """Sync a changed declaration, claim what is due, send it out in batches; warn of what
    is left due past its time."""
    _declarations().sync_if_changed()
    reports_in.tick()  # heartbeats and webhooks: applied and judged here, never probed
    # Batches still waiting count against the claim: claims keep the workers' pace, and what
    # they cannot keep up with stays unclaimed, overdue and seen (the backlog), rather than
    # claimed, queued and expired unprobed.
    waiting = _waiting_messages() * settings.SEAHEALTH_BATCH_SIZE
    room = settings.SEAHEALTH_CLAIM_LIMIT - waiting
    jobs = claim_due(limit=room) if room > 0 else []
    for batch in batches(jobs, settings.SEAHEALTH_BATCH_SIZE):
        # A batch that waited in the queue a whole interval is stale: the next claim has
        # taken its place, so it expires rather than probe twice. Celery takes seconds or a
        # datetime here, not a timedelta.
        shortest = min(job.spec.interval for job in batch)
        probe_batch.apply_async(args=[[job.dependency_id for job in batch]], expires=shortest)
    # What this claim left due, after the batches are sent: a failure here loses none of them.
    _backlog_warnings.check()
    return len(jobs)


def _waiting_messages() -> int:
    """The messages waiting in the queue the batches go to (dispatch_due's among them)."""
    app = probe_batch.app
    with app.connection_for_read() as connection:
        queue = app.conf.task_default_queue
        try:
            declared = connection.default_channel.queue_declare(queue=queue, passive=True)
        except ChannelError:  # not there yet: no message was ever sent to it
            return 0
        return declared.message_count


@shared_task(ignore_result=True)
def probe_batch(dependency_ids: list[int]) -> int:
    jobs = load_jobs(dependency_ids)
    outcomes = run_batch_sync(jobs)
    return record(outcomes).results


@shared_task(ignore_result=True)
def prune_history() -> dict[str, int]:
    """Delete results and rollups past their retention, in short batches; the counts deleted."""
    return retention.prune()


@shared_task(ignore_result=True)
def refresh_uptimes() -> int:
    """Store each dependency's uptime windows on its row; how many changed."""
    return rollups.refresh_uptimes()


@shared_task(ignore_result=True)
def refresh_error_budgets() -> int:
    """Store each SLO's figures on its dependency's row; how many burn alerts changed."""
    return len(error_budgets.refresh())
