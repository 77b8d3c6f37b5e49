"""The dashboard served by gunicorn, and optionally fed by `manage.py runprobes`, as real
processes on the test database."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from pathlib import Path

from tests.databases import subprocess_env
from tests.processes import Process, StartProcess

SERVING_TIMEOUT = 30.0


class Site:
    def __init__(
        self, start_process: StartProcess, directory: Path, name: str = "gunicorn"
    ) -> None:
        self.start_process = start_process
        self.directory = directory
        self.name = name  # of its gunicorn process, and log
        # Bound here and handed to gunicorn, so that no other process can take the port first.
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.processes: list[Process] = []

    def start(self, declaration: Path | None = None, **environment: str) -> None:
        """Serve (and probe `declaration`, when given) with `environment` on top of the test's."""
        env = subprocess_env(
            SEAHEALTH_REFRESH_SECONDS="1",
            SEAHEALTH_TICK_SECONDS="0.25",
            SEAHEALTH_DEPENDENCIES=str(declaration or self.directory / "none.yaml"),
            **environment,
        )
        if declaration is not None:
            runprobes = [sys.executable, "manage.py", "runprobes"]
            self.processes.append(self.start_process("runprobes", runprobes, env=env))
        fd = self.socket.fileno()
        gunicorn = [sys.executable, "-m", "gunicorn", "seahealth.wsgi", f"--bind=fd://{fd}"]
        options = ["--threads=4", "--graceful-timeout=2", "--access-logfile=-"]
        self.processes.append(
            self.start_process(self.name, [*gunicorn, *options], env=env, pass_fds=(fd,))
        )
        self.socket.close()
        self._wait_until_serving()

    def close(self) -> None:
        """Release the port when the site was never started."""
        self.socket.close()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + SERVING_TIMEOUT
        while True:
            for process in self.processes:
                process.check_running()
            try:
                live = f"{self.url}/health/live"
                with urllib.request.urlopen(live, timeout=1) as answer:  # noqa: S310 - http, ours
                    if answer.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                f"the dashboard did not answer within {SERVING_TIMEOUT:g}s"
            )
            time.sleep(0.05)
