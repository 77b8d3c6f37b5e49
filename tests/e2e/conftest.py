"""Real Celery processes for the end-to-end tests: a worker and beat on a Redis broker, sharing
the test database with the test process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings

from tests.conftest import REDIS_URL
from tests.databases import subprocess_env

# A Redis database of its own, flushed before and after, so that no stale task reaches the
# worker and no test leaves one behind.
BROKER_DB = 14
# How long a process gets to shut down warmly (finish its batch) before it is killed.
STOP_TIMEOUT = 15.0

_processes_key = pytest.StashKey[list["CeleryProcess"]]()


@dataclass
class CeleryProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        # Warm shutdown: the worker finishes the batch in hand, then every process exits and
        # its database connections close with it.
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # Its own session (start_new_session), so this reaches the pool's children too.
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


class Celery:
    """Starts `celery -A seahealth ...` subprocesses; the fixture stops them all."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.env = env
        self.directory = directory
        self.processes: list[CeleryProcess] = []

    def worker(self) -> CeleryProcess:
        return self._start(
            "worker",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            # No peers to wait for: start consuming at once.
            "--without-mingle",
            "--without-gossip",
            f"--hostname=e2e-{os.getpid()}@%h",
        )

    def beat(self) -> CeleryProcess:
        return self._start("beat", "beat", f"--schedule={self.directory / 'celerybeat-schedule'}")

    def check_running(self) -> None:
        """Fail at once, not at a deadline, when a process has died."""
        for process in self.processes:
            code = process.popen.poll()
            assert code is None, f"celery {process.name} exited with {code}"

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def _start(self, name: str, *args: str) -> CeleryProcess:
        log = self.directory / f"celery-{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "seahealth", *args, "--loglevel=INFO"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = CeleryProcess(name, popen, log)
        self.processes.append(process)
        return process


@pytest.fixture
def broker_url() -> Iterator[str]:
    url = urlunsplit(urlsplit(REDIS_URL)._replace(path=f"/{BROKER_DB}"))
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def celery(
    request: pytest.FixtureRequest,
    transactional_db: None,
    broker_url: str,
    declaration: Path,
    tmp_path: Path,
) -> Iterator[Celery]:
    """Celery processes on the test database; stopped before the database is flushed.

    Depending on transactional_db makes this fixture's teardown run first: the flush would
    wait on (or deadlock with) a worker still recording.
    """
    env = subprocess_env(CELERY_BROKER_URL=broker_url, SEAHEALTH_DEPENDENCIES=str(declaration))
    env.pop("CELERY_BROKER_URL_FILE", None)
    cluster = Celery(env, tmp_path)
    request.node.stash[_processes_key] = cluster.processes
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A failed test shows what its Celery processes logged."""
    report = yield
    if report.failed:
        for process in item.stash.get(_processes_key, []):
            report.sections.append((f"celery {process.name} output", process.output()))
    return report
