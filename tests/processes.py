"""Subprocesses the tests start (gunicorn, runprobes, Celery, Prometheus), each with its own
log file and its own session, so that stopping one reaches every process it forked."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
# How long a process gets to shut down warmly (a Celery worker finishes its batch) before its
# whole process group is killed.
STOP_TIMEOUT = 15.0


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, command: list[str], *, log: Path, env: dict[str, str], **options: Any
    ) -> Process:
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **options,
            )
        return cls(name, popen, log)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def check_running(self) -> None:
        """Fail at once, not at a deadline, when the process has died."""
        code = self.popen.poll()
        assert code is None, f"{self.name} exited with {code}:\n{self.output()}"

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # Its own session (start_new_session): this reaches its children too.
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=STOP_TIMEOUT)


class StartProcess(Protocol):
    """The e2e `start_process` fixture: starts a Process, logged in the test's directory, that
    the fixture stops and, when the test failed, shows the output of."""

    def __call__(
        self, name: str, command: list[str], *, env: dict[str, str], **options: Any
    ) -> Process: ...
