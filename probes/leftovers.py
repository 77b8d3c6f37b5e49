"""What a probe leaves to do when its deadline cuts it short (delete the canary object it
may have written): done after the probe, detached from it, under a timeout of its own.

The probe's deadline never waits for it. A prober that stops gives it a short grace and
then cancels it (settle()), so that no leftover keeps a process from exiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)

# How long a prober about to exit or end its event loop waits for leftovers (runprobes,
# manage.py probe, a Celery task): brief, since it is in the way of an exit.
GRACE = 0.5

_pending: set[asyncio.Task[None]] = set()


def leave(work: Coroutine[Any, Any, None], name: str) -> None:
    """Run `work` on this event loop, detached; it bounds its own time and logs its failures."""
    task = asyncio.get_running_loop().create_task(work, name=name)
    _pending.add(task)
    task.add_done_callback(_done)


def _done(task: asyncio.Task[None]) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("%s crashed", task.get_name(), exc_info=task.exception())


def pending() -> int:
    """How many leftovers of this event loop are still running."""
    loop = asyncio.get_running_loop()
    return sum(task.get_loop() is loop for task in _pending)


async def settle(grace: float = GRACE) -> int:
    """Wait up to `grace` seconds for the leftovers of this event loop, then cancel the rest;
    how many were cancelled."""
    loop = asyncio.get_running_loop()
    tasks = [task for task in _pending if task.get_loop() is loop]
    if not tasks:
        return 0
    _, unfinished = await asyncio.wait(tasks, timeout=grace)
    for task in unfinished:
        task.cancel()
    await asyncio.gather(*unfinished, return_exceptions=True)
    if unfinished:
        names = ", ".join(sorted(task.get_name() for task in unfinished))
        log.warning("stopped %d unfinished probe leftovers: %s", len(unfinished), names)
    return len(unfinished)
