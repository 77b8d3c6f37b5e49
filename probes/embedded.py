"""The embedded prober: one process loops claim -> run -> record (`manage.py runprobes`).

Probing is asyncio; the database is reached through one thread (sync_to_async is
thread-sensitive by default), which suits SQLite's single writer. Batches run side by side,
so a batch held up by a slow peer never delays the next tick's claims. Between ticks, every
minute it stores the uptime windows on the rows, and every ten minutes it prunes history
past its retention, one short batch at a time through the same thread, so claims and
records wait for one batch at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections, connections

from probes import leftovers, retention, rollups
from probes.declaration_watcher import DeclarationWatcher
from probes.engine import Job, run_batch
from probes.recording import record
from probes.scheduler import batches, claim_due

log = logging.getLogger(__name__)

# How long a stopped prober (SIGTERM, Ctrl-C) lets the batches in flight finish and record
# before it abandons their probes: it exits within about a second, not a whole timeout.
STOP_GRACE = 1.0


@dataclass
class Every:
    """When something done every `seconds` is due: at once, then `seconds` after each start."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    next_at: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            return False
        self.next_at = now + self.seconds
        return True


async def _finished_or_stopped(tasks: set[asyncio.Task[None]], stop: asyncio.Event) -> None:
    """Wait until every task in `tasks` is done, or `stop` is set."""
    stopped = asyncio.create_task(stop.wait())
    try:
        pending = set(tasks)
        while pending and not stopped.done():
            _, pending = await asyncio.wait(
                pending | {stopped}, return_when=asyncio.FIRST_COMPLETED
            )
            pending.discard(stopped)
    finally:
        stopped.cancel()


@dataclass
class EmbeddedProber:
    watcher: DeclarationWatcher
    tick: float
    batch_size: int
    claim_limit: int
    max_in_flight: int
    prune: Every = field(default_factory=lambda: Every(retention.EVERY_SECONDS))
    uptimes: Every = field(default_factory=lambda: Every(rollups.REFRESH_SECONDS))

    def __post_init__(self) -> None:
        self._batches: set[asyncio.Task[None]] = set()
        self._probes_in_flight = 0
        self._abandoned = 0  # probes cut short by a stop
        self._pruning: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Until `stop` is set; with `once`, probe what is due now and return.

        Once `stop` is set it returns within about STOP_GRACE + leftovers.GRACE: batches in
        flight get STOP_GRACE to finish and record, then the probes still running are
        abandoned (their dependencies are due again at their next interval).
        """
        while not stop.is_set():
            claimed = await self._tick()
            if once and not claimed:
                break
            if not once:
                self._prune_if_due(stop)
                self._refresh_uptimes_if_due()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.tick)
        if once and not stop.is_set():
            # --once: batches in flight end within their probes' timeouts: let them record.
            await _finished_or_stopped(self._batches, stop)
        await self._stop_batches(time.monotonic() + STOP_GRACE)
        # Then, briefly, what cut-short probes left to do (a canary to delete).
        await leftovers.settle()
        # A prune stops after its current batch; an uptime refresh is one statement.
        for housekeeping in (self._pruning, self._refreshing):
            if housekeeping is not None:
                await housekeeping
        await sync_to_async(connections.close_all)()

    async def _stop_batches(self, deadline: float) -> None:
        """Wait for the batches in flight until `deadline`, then cancel them."""
        batches = set(self._batches)
        if batches:
            _, unfinished = await asyncio.wait(batches, timeout=deadline - time.monotonic())
            for batch in unfinished:
                batch.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        if self._abandoned:
            log.warning(
                "stopped with %d probes in flight: abandoned, they are due again at their "
                "next interval",
                self._abandoned,
            )

    async def _tick(self) -> int:
        """Sync the declaration if it changed, claim what is due, start its batches."""
        room = min(self.claim_limit, self.max_in_flight - self._probes_in_flight)
        try:
            jobs = await sync_to_async(self._sync_and_claim)(room)
        except DatabaseError as exc:
            log.error("cannot reach the database, will retry next tick: %s", exc)
            return 0
        for batch in batches(jobs, self.batch_size):
            task = asyncio.create_task(self._probe_and_record(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)
        return len(jobs)

    def _sync_and_claim(self, room: int) -> list[Job]:
        close_old_connections()
        self.watcher.sync_if_changed()
        return claim_due(limit=room) if room > 0 else []

    async def _probe_and_record(self, batch: list[Job]) -> None:
        self._probes_in_flight += len(batch)
        outcomes = None
        try:
            outcomes = await run_batch(batch)
            # Not cut short by a stop: sync_to_async sees its call through.
            await sync_to_async(record)(outcomes)
        except asyncio.CancelledError:
            if outcomes is None:
                self._abandoned += len(batch)
            raise
        except DatabaseError as exc:
            # Not retried: these dependencies are due again at their next interval.
            log.error("lost %d probe results, the database refused them: %s", len(batch), exc)
        finally:
            self._probes_in_flight -= len(batch)

    def _refresh_uptimes_if_due(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            return
        if self.uptimes.due():
            self._refreshing = asyncio.create_task(self._refresh_uptimes())

    async def _refresh_uptimes(self) -> None:
        try:
            await sync_to_async(rollups.refresh_uptimes)()
        except DatabaseError as exc:
            log.error("cannot refresh uptimes, will retry in %gs: %s", self.uptimes.seconds, exc)

    def _prune_if_due(self, stop: asyncio.Event) -> None:
        if self._pruning is not None and not self._pruning.done():
            return
        if self.prune.due():
            self._pruning = asyncio.create_task(self._prune_history(stop))

    async def _prune_history(self, stop: asyncio.Event) -> None:
        steps = retention.pruning()
        deleted: Counter[str] = Counter()
        try:
            # One batch per call: a claim or a record queued meanwhile goes next.
            while not stop.is_set() and (step := await sync_to_async(next)(steps, None)):
                kind, count = step
                deleted[kind] += count
        except DatabaseError as exc:
            log.error("cannot prune history, will retry in %gs: %s", self.prune.seconds, exc)
        if deleted:
            log.info("pruned history: %s", retention.summary(deleted))
