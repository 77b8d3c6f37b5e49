"""What probes leave to do after their deadline: awaited for a grace, then cancelled."""

from __future__ import annotations

import asyncio
import logging

from probes import leftovers


async def _finish_soon(done: list[str]) -> None:
    await asyncio.sleep(0.01)
    done.append("finished")


async def _never_finish(done: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        done.append("stopped")


def test_settle_waits_for_leftovers_that_finish_within_the_grace() -> None:
    done: list[str] = []

    async def run() -> tuple[int, int]:
        leftovers.leave(_finish_soon(done), name="tidy up")
        before = leftovers.pending()
        return before, await leftovers.settle(grace=30)

    assert asyncio.run(run()) == (1, 0)
    assert done == ["finished"]


def test_settle_cancels_what_the_grace_did_not_see_finish_and_says_so(caplog) -> None:
    done: list[str] = []

    async def run() -> tuple[int, int]:
        leftovers.leave(_never_finish(done), name="delete canary s3://docs/x")
        with caplog.at_level(logging.WARNING, logger="probes.leftovers"):
            cancelled = await leftovers.settle(grace=0.05)
        return cancelled, leftovers.pending()

    assert asyncio.run(run()) == (1, 0)
    assert done == ["stopped"]
    assert "stopped 1 unfinished probe leftovers: delete canary s3://docs/x" in caplog.text


def test_settle_leaves_the_leftovers_of_other_event_loops_alone() -> None:
    done: list[str] = []

    async def leave() -> None:
        leftovers.leave(_never_finish(done), name="on another loop")

    other = asyncio.new_event_loop()
    try:
        other.run_until_complete(leave())
        assert asyncio.run(leftovers.settle(grace=0)) == 0
        assert done == []
    finally:
        assert other.run_until_complete(leftovers.settle(grace=0)) == 1
        other.close()
    assert done == ["stopped"]
