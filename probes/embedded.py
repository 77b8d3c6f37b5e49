"""The embedded prober (`manage.py runprobes`): claim -> probe -> record, in two processes.

This process keeps the database: every tick it syncs a changed declaration and claims what
comes due within the next two ticks; it records outcomes as they come back, a few times a
second; every second it sends the notifications due, every 15 s it stores the SLO figures
and every minute the uptime windows on the rows, every ten minutes it prunes history. The
probes run in a child (probing_process.py), each started when its dependency is due, so
that none of this work lands in the latency a probe measures. The database is reached
through one thread (sync_to_async is thread-sensitive by default), which suits SQLite's
single writer.

A child that dies is started again; the probes it had are due again at their next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections, connections

from inbound import applying as reports_in
from notifications import sender
from probes import error_budgets, retention, rollups
from probes.backlog import BacklogWarnings
from probes.declaration_watcher import DeclarationWatcher
from probes.engine import Job
from probes.probing_process import Outcomes, ProbingProcess
from probes.recording import record
from probes.scheduler import claim_due, unclaim

log = logging.getLogger(__name__)

# How long a stopped prober (SIGTERM, Ctrl-C) lets the probes in flight finish and record
# before it abandons them: it exits within about a second, not a whole timeout.
STOP_GRACE = 1.0
# How often outcomes that came back are recorded (in one transaction each time).
RECORD_EVERY = 0.2  # seconds
# What a tick claims: what comes due within this many ticks, so that each probe can start
# when it is due, even when the next tick comes late.
LOOK_AHEAD_TICKS = 2
# How often notifications are sent (notifications/sender.py): what is due, every second.
NOTIFY_EVERY = 1.0


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


@dataclass
class EmbeddedProber:
    watcher: DeclarationWatcher
    tick: float
    claim_limit: int
    max_in_flight: int  # probes claimed and not yet recorded
    prune: Every = field(default_factory=lambda: Every(retention.EVERY_SECONDS))
    uptimes: Every = field(default_factory=lambda: Every(rollups.REFRESH_SECONDS))
    error_budgets: Every = field(default_factory=lambda: Every(error_budgets.REFRESH_SECONDS))
    notifications: Every = field(default_factory=lambda: Every(NOTIFY_EVERY))
    backlog_warnings: BacklogWarnings = field(default_factory=BacklogWarnings)

    def __post_init__(self) -> None:
        self._claimed: dict[int, Job] = {}  # by the number each was sent under, until recorded
        self._numbers = itertools.count()
        self._came_back: Outcomes = []
        self._probing = ProbingProcess(self._came_back.extend, self._child_died)
        self._housekeeping: dict[str, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> None:
        """Until `stop` is set; with `once`, probe what is due now, send the notifications due
        and return.

        Once `stop` is set it returns within about STOP_GRACE + a second: the probes in
        flight get STOP_GRACE to finish, then those still running are abandoned (their
        dependencies are due again at their next interval).
        """
        await self._probing.started()
        recorder = asyncio.create_task(self._record_every(stop))
        try:
            while not stop.is_set():
                claimed = await self._tick(ahead=0.0 if once else self.tick * LOOK_AHEAD_TICKS)
                if once and not claimed:
                    break
                if not once:
                    self._housekeep_if_due(stop)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=self.tick)
            if once:
                # Probes end within their timeouts: let every one come back, unless stopped.
                while self._claimed and not stop.is_set():
                    await self._record()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=RECORD_EVERY)
                if not stop.is_set():
                    # Run from cron there is no next second: what it recorded is told now
                    # (after the last recording: both take the one database thread, in turn).
                    await self._send_notifications()
        finally:
            await self._probing.stop(STOP_GRACE)
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
            await self._record()
            await self._give_back(self._probing.unstarted)
            self._abandon("stopped")
            sending = self._housekeeping.pop("notifications", None)
            if sending is not None:
                # Not waited for: a message sent and not yet marked is sent again, with
                # the same id, once its lease ends (at least once).
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
            for housekeeping in self._housekeeping.values():
                await housekeeping  # a prune stops after its current batch
            await sync_to_async(connections.close_all)()

    async def _tick(self, ahead: float) -> int:
        """Sync the declaration if it changed, claim what comes due, send it to be probed."""
        room = min(self.claim_limit, self.max_in_flight - len(self._claimed))
        try:
            jobs = await sync_to_async(self._sync_and_claim)(room, ahead)
        except DatabaseError as exc:
            log.error("cannot reach the database, will retry next tick: %s", exc)
            return 0
        numbered = [(next(self._numbers), job) for job in jobs]
        self._claimed.update(numbered)
        self._probing.send(numbered)
        return len(jobs)

    def _sync_and_claim(self, room: int, ahead: float) -> list[Job]:
        close_old_connections()
        self.watcher.sync_if_changed()
        reports_in.tick()  # heartbeats and webhooks: applied and judged here, never probed
        # Before the claim, and whether or not there is room: no room is when it is behind.
        self.backlog_warnings.check()
        return claim_due(limit=room, ahead=ahead) if room > 0 else []

    async def _record_every(self, stop: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(RECORD_EVERY)
            await self._record()

    async def _record(self) -> None:
        came_back, self._came_back[:] = list(self._came_back), []
        outcomes = [
            (self._claimed.pop(number), outcome)
            for number, outcome in came_back
            if number in self._claimed
        ]
        if not outcomes:
            return
        try:
            # Shielded: a stop that comes meanwhile does not leave the transaction half done.
            await asyncio.shield(sync_to_async(record)(outcomes))
        except DatabaseError as exc:
            # Not retried: these dependencies are due again at their next interval.
            log.error("lost %d probe results, the database refused them: %s", len(outcomes), exc)

    async def _give_back(self, numbers: list[int]) -> None:
        """The claims of probes the child never started (claimed ahead, not yet due): due
        again when they were, not an interval later."""
        unstarted = [self._claimed.pop(number) for number in numbers if number in self._claimed]
        with contextlib.suppress(DatabaseError):
            await sync_to_async(unclaim)(unstarted)

    def _child_died(self, exit_code: int) -> None:
        log.error("the probing process died (exit code %s): starting another", exit_code)
        self._abandon("the probing process died")
        self._probing.start()

    def _abandon(self, why: str) -> None:
        if self._claimed:
            log.warning(
                "%s with %d probes in flight: abandoned, they are due again at their next interval",
                why,
                len(self._claimed),
            )
            self._claimed.clear()

    def _housekeep_if_due(self, stop: asyncio.Event) -> None:
        for name, every, work in (
            ("uptimes", self.uptimes, self._refresh_uptimes),
            ("error budgets", self.error_budgets, self._refresh_error_budgets),
            ("prune", self.prune, lambda: self._prune_history(stop)),
            ("notifications", self.notifications, self._send_notifications),
        ):
            running = self._housekeeping.get(name)
            if (running is None or running.done()) and every.due():
                self._housekeeping[name] = asyncio.create_task(work())

    async def _refresh_uptimes(self) -> None:
        try:
            await sync_to_async(rollups.refresh_uptimes)()
        except DatabaseError as exc:
            log.error("cannot refresh uptimes, will retry in %gs: %s", self.uptimes.seconds, exc)

    async def _refresh_error_budgets(self) -> None:
        try:
            await sync_to_async(error_budgets.refresh)()
        except DatabaseError as exc:
            seconds = self.error_budgets.seconds
            log.error("cannot refresh SLO figures, will retry in %gs: %s", seconds, exc)

    async def _send_notifications(self) -> None:
        """The database steps on its thread, the network on this loop."""
        try:
            claimed = await sync_to_async(sender.take)()
            if claimed:
                await sync_to_async(sender.settle)(await sender.deliver(claimed))
        except DatabaseError as exc:
            log.error("cannot send notifications, will retry in %gs: %s", NOTIFY_EVERY, exc)

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
