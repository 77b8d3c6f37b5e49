"""The dashboard served by gunicorn (or by `manage.py runserver`), and optionally fed by
`manage.py runprobes`, as real processes on the test database."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request
from pathlib import Path

from tests.databases import subprocess_env
from tests.processes import Process, StartProcess
from tests.servers import unused_port

SERVING_TIMEOUT = 30.0
SERVERS = ("gunicorn", "runserver")
# runserver binds the port itself: a port picked free may be taken before it does.
PORT_ATTEMPTS = 3
PORT_TAKEN = "That port is already in use."


class Site:
    def __init__(
        self,
        start_process: StartProcess,
        directory: Path,
        name: str | None = None,
        server: str = "gunicorn",
    ) -> None:
        assert server in SERVERS, server
        self.start_process = start_process
        self.directory = directory
        self.name = name or server  # of its server process, and log
        self.processes: list[Process] = []
        self.server: Process | None = None
        self.environment: dict[str, str] = {}
        self.socket: socket.socket | None = None
        if server == "gunicorn":
            # Bound here and handed to gunicorn, so that no other process can take it first.
            self.socket = socket.create_server(("127.0.0.1", 0))
            self._on_port(self.socket.getsockname()[1])
        else:
            self._on_port(unused_port())  # picked again at start if it was taken meanwhile

    def start(self, declaration: Path | None = None, **environment: str) -> None:
        """Serve (and probe `declaration`, when given) with `environment` on top of the test's."""
        env = subprocess_env(
            SEAHEALTH_REFRESH_SECONDS="1",
            SEAHEALTH_TICK_SECONDS="0.25",
            SEAHEALTH_DEPENDENCIES=str(declaration or self.directory / "none.yaml"),
            **environment,
        )
        self.environment = env
        if declaration is not None:
            runprobes = [sys.executable, "manage.py", "runprobes"]
            self.processes.append(self.start_process("runprobes", runprobes, env=env))
        if self.socket is not None:
            self._start_gunicorn(env, self.socket)
        else:
            self._start_runserver(env)

    def stop_serving(self) -> None:
        """Stops the web server, as a crash or a deploy would: its port refuses connections."""
        assert self.server is not None, "not serving"
        self.server.stop()

    def serve_again(self) -> None:
        """Serves again on the same port (gunicorn), with the same environment."""
        assert self.server is not None, "never served"
        assert self.server.popen.poll() is not None, "still serving"
        self.processes.remove(self.server)
        self.name = f"{self.name}-again"
        self._start_gunicorn(self.environment, socket.create_server(("127.0.0.1", self.port)))

    def close(self) -> None:
        """Release the port when the site was never started."""
        if self.socket is not None:
            self.socket.close()

    def _on_port(self, port: int) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"
        self.url = f"http://{self.address}"

    def _start_gunicorn(self, env: dict[str, str], bound: socket.socket) -> None:
        fd = bound.fileno()
        gunicorn = [sys.executable, "-m", "gunicorn", "seahealth.wsgi", f"--bind=fd://{fd}"]
        options = ["--threads=4", "--graceful-timeout=2", "--access-logfile=-"]
        self.server = self.start_process(self.name, [*gunicorn, *options], env=env, pass_fds=(fd,))
        self.processes.append(self.server)
        bound.close()
        self._wait_until_serving()

    def _start_runserver(self, env: dict[str, str]) -> None:
        # Threaded, as runserver is by default; --noreload: one process, stopped as a whole.
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if attempt > 1:
                self._on_port(unused_port())
            name = self.name if attempt == 1 else f"{self.name}-{attempt}"
            command = [sys.executable, "manage.py", "runserver", "--noreload", self.address]
            server = self.start_process(name, command, env=env)
            self.processes.append(server)
            self.server = server
            if self._wait_until_serving(unless_exited=server):
                return
            output = server.output()
            assert PORT_TAKEN in output, f"{name} exited with {server.popen.returncode}:\n{output}"
            self.processes.remove(server)
        raise AssertionError(f"runserver found no free port in {PORT_ATTEMPTS} attempts")

    def _wait_until_serving(self, unless_exited: Process | None = None) -> bool:
        """Until /health/live answers 200: True; False as soon as `unless_exited` exits."""
        deadline = time.monotonic() + SERVING_TIMEOUT
        while True:
            if unless_exited is not None and unless_exited.popen.poll() is not None:
                return False
            for process in self.processes:
                process.check_running()
            try:
                live = f"{self.url}/health/live"
                with urllib.request.urlopen(live, timeout=1) as answer:  # noqa: S310 - http, ours
                    if answer.status == 200:
                        return True
            except OSError:
                pass
            assert time.monotonic() < deadline, (
                f"the dashboard did not answer within {SERVING_TIMEOUT:g}s"
            )
            time.sleep(0.05)
