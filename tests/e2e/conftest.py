"""What the end-to-end tests run: real processes (the dashboard, Celery worker and beat,
Prometheus) on the test database, stopped before it is flushed and shown when a test fails."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.conftest import REDIS_URL
from tests.databases import subprocess_env
from tests.e2e.site import Site
from tests.processes import Process, StartProcess

# A Redis database of its own, flushed before and after, so that no stale task reaches the
# worker and no test leaves one behind.
BROKER_DB = 14

_started_key = pytest.StashKey[list[Process]]()


class Celery:
    """Starts `celery -A seahealth ...` subprocesses (start_process stops them)."""

    def __init__(self, start_process: StartProcess, env: dict[str, str], directory: Path) -> None:
        self.start_process = start_process
        self.env = env
        self.directory = directory
        self.processes: list[Process] = []

    def worker(self, name: str = "worker") -> Process:
        """A worker of two processes; several need a `name` each (their hostname and log)."""
        return self._start(
            name,
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            # No peers to wait for: start consuming at once.
            "--without-mingle",
            "--without-gossip",
            f"--hostname={name}.e2e-{os.getpid()}@%h",
        )

    def beat(self) -> Process:
        return self._start("beat", "beat", f"--schedule={self.directory / 'celerybeat-schedule'}")

    def check_running(self) -> None:
        """Fail at once, not at a deadline, when a process has died."""
        for process in self.processes:
            process.check_running()

    def _start(self, name: str, *args: str) -> Process:
        command = [sys.executable, "-m", "celery", "-A", "seahealth", *args, "--loglevel=INFO"]
        process = self.start_process(f"celery-{name}", command, env=self.env)
        self.processes.append(process)
        return process


@pytest.fixture
def start_process(
    request: pytest.FixtureRequest, transactional_db: None, tmp_path: Path
) -> Iterator[StartProcess]:
    """Starts processes that are stopped before the database is flushed.

    Depending on transactional_db makes this fixture's teardown run first: the flush would
    wait on (or deadlock with) a worker still recording.
    """
    started: list[Process] = []
    request.node.stash[_started_key] = started

    def start(name: str, command: list[str], *, env: dict[str, str], **options: Any) -> Process:
        process = Process.start(name, command, log=tmp_path / f"{name}.log", env=env, **options)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def site(start_process: StartProcess, tmp_path: Path) -> Iterator[Site]:
    site = Site(start_process, tmp_path)
    try:
        yield site
    finally:
        site.close()


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
    broker_url: str, start_process: StartProcess, declaration: Path, tmp_path: Path
) -> Celery:
    """Celery processes on the test database and a broker of their own.

    broker_url comes first so that it is flushed last, once the processes have stopped.
    """
    env = subprocess_env(CELERY_BROKER_URL=broker_url, SEAHEALTH_DEPENDENCIES=str(declaration))
    env.pop("CELERY_BROKER_URL_FILE", None)
    return Celery(start_process, env, tmp_path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A failed test shows what each of its processes logged."""
    report = yield
    if report.failed:
        for process in item.stash.get(_started_key, []):
            report.sections.append((f"{process.name} output", process.output()))
    return report
