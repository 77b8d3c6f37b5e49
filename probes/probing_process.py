"""The embedded prober's probing process: it runs each Job when it is due, under its deadline,
and sends the outcomes back. Nothing else runs in it.

The latency a probe measures is the time its peer took, plus whatever else kept the event
loop busy when the answer came: in one process with the database work (claims, recording,
uptimes, pruning) that was tens of milliseconds. So runprobes (embedded.py) keeps the
database, and this process, a child it starts, keeps the peers: on a machine of two cores
each has one. They speak through a pipe: numbered Jobs one way, (number, Outcome) the other
(a dependency may be claimed again before its last probe came back).

The child never touches the database. It ignores SIGINT and SIGTERM (the parent's stop
message ends it, after a grace for the probes in flight) and exits when the pipe closes,
so it never outlives its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from probes import kinds, leftovers
from probes.context import Batch, ProbeContext
from probes.engine import Job, run_unit, units
from probes.outcomes import Outcome

log = logging.getLogger(__name__)

STOP = "stop"
READY = "ready"
# Before it exits, the child sends (UNSTARTED, [numbers]): the jobs it never started.
UNSTARTED = "unstarted"
# How long the child may take to start (an interpreter, Django, the kinds' modules).
START_TIMEOUT = 60.0
# Outcomes go back in small groups: a message per probe would wake the parent for each.
SEND_EVERY = 0.05  # seconds
# The HTTP client's connection limit: probes are bounded by what the parent claims, not here.
MAX_CONNECTIONS = 100_000

# (the number the parent gave the job, its outcome)
Outcomes = list[tuple[int, Outcome]]
# (that number, the job)
Numbered = list[tuple[int, Job]]


# --- the parent's side ---------------------------------------------------------------------


class ProbingProcess:
    """The child process, seen from runprobes: send it Jobs; outcomes arrive at `received`,
    called on the parent's event loop; `died` when the child ended without being asked."""

    def __init__(self, received: Callable[[Outcomes], None], died: Callable[[int], None]):
        self.received = received
        self.died = died
        self.unstarted: list[int] = []  # numbers of the jobs the child never started
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._stopping = False
        self._ready = asyncio.Event()

    async def started(self) -> None:
        """Start the child and wait until it can probe: a job sent sooner would start late."""
        self.start()
        async with asyncio.timeout(START_TIMEOUT):
            await self._ready.wait()

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=serve, args=(child,), name="seahealth-probing", daemon=True
        )
        self._process.start()
        child.close()
        self._stopping = False
        self._ready.clear()
        self.unstarted = []
        asyncio.get_running_loop().add_reader(self._conn.fileno(), self._readable)

    def send(self, jobs: Numbered) -> None:
        if self._conn is not None and jobs:
            self._conn.send(jobs)

    async def stop(self, grace: float) -> None:
        """Ask the child to end its probes (within `grace`), take their outcomes, wait for it."""
        if self._process is None or self._conn is None:
            return
        self._stopping = True
        with contextlib.suppress(OSError):
            self._conn.send((STOP, grace))
        process = self._process
        await asyncio.to_thread(process.join, grace + leftovers.GRACE + 3)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)
        self._close()

    def _readable(self) -> None:
        conn = self._conn
        try:
            while conn is not None and conn.poll():
                message = conn.recv()
                if message == READY:
                    self._ready.set()
                elif isinstance(message, tuple) and message[0] == UNSTARTED:
                    self.unstarted += message[1]
                else:
                    self.received(message)
        except (EOFError, OSError):
            stopping = self._stopping
            code = None
            if self._process is not None:
                # The pipe may close a moment before the process can be reaped: an exit code
                # read at once would be None. A closed pipe means it has ended, or soon will.
                self._process.join(timeout=1.0)
                code = self._process.exitcode
            self._close()
            if not stopping:
                self.died(code if code is not None else -1)

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._conn.fileno())
            self._conn.close()
            self._conn = None
        self._process = None


# --- the child's side ----------------------------------------------------------------------


def serve(conn: Connection) -> None:
    """The child's main: probe what comes down the pipe until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The kinds import Django's models with the metrics they render (never the database).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seahealth.settings")
    import django

    django.setup()
    # What is loaded by now stays: the collector never walks it again, and its pauses (which
    # land in the latency of the probes they interrupt) stay short.
    gc.freeze()
    asyncio.run(_Child(conn).run())


class _Child:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.batch = Batch(MAX_CONNECTIONS)
        self.waiting: dict[asyncio.Task[None], list[int]] = {}  # until due: its job numbers
        self.running: set[asyncio.Task[None]] = set()
        self.done: Outcomes = []
        self.stopped = asyncio.Event()
        self.grace = 0.0
        self.prepared: set[str] = set()
        self.outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.conn.fileno(), self._readable)
        sender = asyncio.create_task(self._send_every())
        outbox = threading.Thread(target=self._send_outbox, name="seahealth-outbox", daemon=True)
        outbox.start()
        self.outbox.put(READY)
        try:
            await self.stopped.wait()
            # A probe not yet due is not started at all: the parent gives its claim back.
            for task in self.waiting:
                task.cancel()
            self.outbox.put((UNSTARTED, [n for numbers in self.waiting.values() for n in numbers]))
            if self.running:
                _, late = await asyncio.wait(self.running, timeout=self.grace)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            await leftovers.settle()
        finally:
            loop.remove_reader(self.conn.fileno())
            sender.cancel()
            self._send()
            self.outbox.put(None)
            await asyncio.to_thread(outbox.join)
            await self.batch.aclose()
            self.conn.close()

    def _readable(self) -> None:
        try:
            while self.conn.poll():
                message: Any = self.conn.recv()
                if isinstance(message, tuple) and message[0] == STOP:
                    self.grace = message[1]
                    self.stopped.set()
                else:
                    self._start(message)
        except (EOFError, OSError):
            # The parent is gone: nobody will read the outcomes.
            self.grace = 0.0
            self.stopped.set()

    def _start(self, jobs: Numbered) -> None:
        for kind in {job.spec.kind for _, job in jobs} - self.prepared:
            if kind in kinds.KINDS:
                kinds.prepare(kind)  # a slow import, before these probes' clocks start
            self.prepared.add(kind)
        self.batch.prepare({job.spec.ca_file or None for _, job in jobs})
        # A pool's members are probed together (engine.units), each other job alone.
        for unit in units(jobs, lambda numbered: numbered[1].spec):
            task = asyncio.create_task(self._probe(unit))
            self.waiting[task] = [number for number, _ in unit]
            task.add_done_callback(self.running.discard)

    async def _probe(self, unit: Numbered) -> None:
        task = asyncio.current_task()
        start_at = min((job.start_at for _, job in unit if job.start_at), default=None)
        delay = (start_at - datetime.now(UTC)).total_seconds() if start_at else 0.0
        if delay > 0:
            await asyncio.sleep(delay)
        del self.waiting[task]
        self.running.add(task)
        done = await run_unit([job for _, job in unit], self._context, os.environ)
        # Not `self.done.extend(await ...)`: that would extend the list sent meanwhile.
        numbers = [number for number, _ in unit]
        self.done += [(number, outcome) for number, (_, outcome) in zip(numbers, done, strict=True)]

    def _context(self, job: Job) -> ProbeContext:
        return self.batch.probe_context(job.spec.ca_file or None, job.spec.timeout)

    async def _send_every(self) -> None:
        while True:
            await asyncio.sleep(SEND_EVERY)
            self._send()

    def _send(self) -> None:
        if self.done:
            done, self.done = self.done, []
            self.outbox.put(done)

    def _send_outbox(self) -> None:
        """The sender thread: a pipe write blocks while the parent is not reading (busy, or
        paused by its garbage collector), and the event loop must never wait on it."""
        while (message := self.outbox.get()) is not None:
            with contextlib.suppress(OSError):
                self.conn.send(message)
