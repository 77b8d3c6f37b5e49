from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest

from probes.engine import Job, run_batch
from probes.kinds import KINDS
from probes.outcomes import ErrorClass, Outcome
from tests.factories import make_job

pytestmark = pytest.mark.no_database


def job(number: int, spec: dict, *, kind: str = "http", timeout: float = 2.0) -> Job:
    return make_job(kind, spec, name=f"dep-{number}", number=number, timeout=timeout)


@dataclass(frozen=True)
class _Spec:
    secret: str = ""


async def _crash(spec: _Spec, ctx: object) -> Outcome:
    raise RuntimeError(f"unexpected reply mentioning {spec.secret}")


async def _sleep_forever(spec: _Spec, ctx: object) -> Outcome:
    await asyncio.sleep(3600)
    return Outcome()


@pytest.fixture
def test_kinds(monkeypatch):
    """Two kinds that misbehave as a buggy probe would: one crashes, one ignores time."""
    for name, probe in (("crashing", _crash), ("sleepy", _sleep_forever)):
        monkeypatch.setitem(KINDS, name, SimpleNamespace(Spec=_Spec, probe=probe))


def test_a_batch_shares_one_http_client(http_server, monkeypatch) -> None:
    created = []
    real_init = httpx.AsyncClient.__init__

    def counting_init(self, *args, **kwargs):
        created.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    jobs = [job(n, {"url": http_server.url()}) for n in range(20)]
    results = asyncio.run(run_batch(jobs, environ={}))
    assert [outcome.ok for _, outcome in results] == [True] * 20
    assert len(created) == 1
    assert len(http_server.requests) == 20


def test_a_peer_that_never_answers_delays_no_other_probe(http_server, hanging_server) -> None:
    jobs = [job(0, {"url": hanging_server.url()}, timeout=1.5)]
    jobs += [job(n, {"url": http_server.url()}, timeout=1.5) for n in range(1, 6)]
    started = time.monotonic()
    results = asyncio.run(run_batch(jobs, environ={}))
    elapsed = time.monotonic() - started
    outcomes = {j.dependency_id: outcome for j, outcome in results}
    assert outcomes[0].error_class is ErrorClass.TIMEOUT
    for number in range(1, 6):
        assert outcomes[number].ok
        # Each answered on its own time, not after the hung peer's 1.5 s deadline.
        assert outcomes[number].latency_ms < 1500
    assert elapsed < 1.5 + 2


def test_the_deadline_holds_even_for_a_probe_that_ignores_time(test_kinds) -> None:
    started = time.monotonic()
    [(_, outcome)] = asyncio.run(run_batch([job(1, {}, kind="sleepy", timeout=0.3)], environ={}))
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert outcome.detail == "no answer within 300ms"
    assert time.monotonic() - started < 2


def test_a_probe_crash_is_a_recorded_internal_failure_and_logs_no_secret(
    test_kinds, caplog
) -> None:
    jobs = [job(1, {"secret": "${VAULT_TOKEN}"}, kind="crashing")]
    with caplog.at_level(logging.ERROR, logger="probes.engine"):
        [(_, outcome)] = asyncio.run(run_batch(jobs, environ={"VAULT_TOKEN": "hunter2-secret"}))
    assert outcome.error_class is ErrorClass.INTERNAL
    assert "RuntimeError" in outcome.detail
    assert "dep-1" in caplog.text
    assert "RuntimeError: unexpected reply mentioning ***" in caplog.text
    assert "hunter2-secret" not in caplog.text


def test_an_empty_batch_opens_nothing(monkeypatch) -> None:
    monkeypatch.setattr(httpx, "AsyncClient", None)  # would raise if the engine built one
    assert asyncio.run(run_batch([], environ={})) == []


def test_a_job_starts_when_it_is_due_not_before(http_server) -> None:
    start_at = datetime.now(UTC) + timedelta(seconds=0.5)
    later = dataclasses.replace(job(1, {"url": http_server.url()}), start_at=start_at)

    [(_, outcome)] = asyncio.run(run_batch([later], environ={}))

    assert outcome.ok
    assert http_server.arrivals[0] >= start_at
