"""No probe outlives its deadline (issue 9): whatever its kind, when the deadline passes the
probe's connection is closed and no seahealth thread is left working for it.

The peers drip their answer a byte at a time, forever: every byte resets a read timeout, so
only a deadline on the whole exchange ends it.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from probes.engine import run_batch
from probes.kinds import KINDS, prepare
from probes.models import Dependency, ProbeResult
from probes.outcomes import ErrorClass
from tests.conftest import wait_for
from tests.databases import subprocess_env
from tests.factories import make_job
from tests.processes import Process
from tests.servers import HTTP_DRIP, SMTP_DRIP, TLS_DRIP, DrippingServer, unused_port
from tests.threads import busy_probe_threads

pytestmark = pytest.mark.no_database  # its django_db tests run in both passes all the same

TIMEOUT = 0.5
# The bound of the issue: the peer sees its connection closed within a second of the deadline.
CLOSED_WITHIN = 1.0


def _starttls_offered(conn: socket.socket) -> None:
    """An SMTP relay as far as STARTTLS; then its TLS handshake drips."""
    lines = conn.makefile("rb")
    conn.sendall(b"220 relay.test ESMTP\r\n")
    lines.readline()  # EHLO
    conn.sendall(b"250-relay.test\r\n250 STARTTLS\r\n")
    lines.readline()  # STARTTLS
    conn.sendall(b"220 go ahead\r\n")


def _smtp(tls: str) -> Callable[[DrippingServer], dict[str, Any]]:
    return lambda server: {"host": "127.0.0.1", "port": server.port, "tls": tls}


def _s3(scheme: str) -> Callable[[DrippingServer], dict[str, Any]]:
    return lambda server: {
        "bucket": "documents",
        "endpoint_url": server.url("", scheme),
        "region": "eu-west-1",
        "access_key_id": "AKIADRIPPING",
        "secret_access_key": "dripping",
    }


# case: (kind, what the peer drips, what it plays out first, the spec that reaches it)
CASES: dict[str, tuple[str, bytes, Callable[[socket.socket], None] | None, Callable]] = {
    "http headers": ("http", HTTP_DRIP, None, lambda s: {"url": s.url("/health")}),
    "https handshake": ("http", TLS_DRIP, None, lambda s: {"url": s.url("/health", "https")}),
    "rpc headers": ("rpc", HTTP_DRIP, None, lambda s: {"url": s.url("/")}),
    "rpc https handshake": ("rpc", TLS_DRIP, None, lambda s: {"url": s.url("/", "https")}),
    "rpc ws upgrade": ("rpc", HTTP_DRIP, None, lambda s: {"url": s.url("/", "ws")}),
    "rpc wss handshake": ("rpc", TLS_DRIP, None, lambda s: {"url": s.url("/", "wss")}),
    "smtp banner": ("smtp", SMTP_DRIP, None, _smtp("none")),
    "smtp implicit tls handshake": ("smtp", TLS_DRIP, None, _smtp("implicit")),
    "smtp starttls handshake": ("smtp", TLS_DRIP, _starttls_offered, _smtp("starttls")),
    "s3 headers": ("s3", HTTP_DRIP, None, _s3("http")),
    "s3 https handshake": ("s3", TLS_DRIP, None, _s3("https")),
}


@pytest.fixture(scope="module", autouse=True)
def _loaded_once() -> None:
    """What a prober loads once, before its first probes (web3; botocore's S3 model): not
    what these tests measure."""
    for name in KINDS:
        prepare(name)
    warm_up = {"bucket": "documents", "endpoint_url": f"http://127.0.0.1:{unused_port()}"}
    warm_up |= {"region": "eu-west-1", "access_key_id": "AKIAWARMUP", "secret_access_key": "-"}
    asyncio.run(run_batch([make_job("s3", warm_up, timeout=30)], environ={}))


@pytest.mark.parametrize("case", CASES)
def test_the_deadline_closes_the_connection_and_frees_every_thread(case: str) -> None:
    kind, opening, prelude, spec = CASES[case]
    server = DrippingServer(opening, prelude=prelude)
    try:
        # The probe's deadline passes no earlier than this: it starts once the batch is set up.
        deadline = time.monotonic() + TIMEOUT
        job = make_job(kind, spec(server), timeout=TIMEOUT)
        [(_, outcome)] = asyncio.run(run_batch([job], environ={}))
        assert outcome.error_class is ErrorClass.TIMEOUT, outcome.detail
        assert server.connections, "the probe never reached the peer"
        assert server.wait_until_closed(deadline + CLOSED_WITHIN - time.monotonic()) == []
        assert [c.closed - deadline < CLOSED_WITHIN for c in server.connections] == [True] * len(
            server.connections
        )
        assert busy_probe_threads() == []
    finally:
        server.stop()


# --- the processes: runprobes and manage.py probe, against dripping S3 peers -------------

# The bounds: runprobes stops within 2 s of SIGTERM; runprobes --once and
# manage.py probe exit within their timeout + 2 s.
STOPS_WITHIN = 2.0
EXITS_WITHIN = 2.0


def s3_declaration(path: Path, server: DrippingServer, count: int, timeout: str) -> None:
    entries = "".join(
        f"  - {{name: drip-{n}, kind: s3, bucket: documents, region: eu-west-1, "
        f"endpoint_url: '{server.url('')}', access_key_id: '${{S3_KEY_ID}}', "
        f"secret_access_key: '${{S3_SECRET}}', timeout: {timeout}, interval: 60s}}\n"
        for n in range(count)
    )
    path.write_text("dependencies:\n" + entries)


def start(tmp_path: Path, name: str, *arguments: str, declaration: Path) -> Process:
    env = subprocess_env(
        SEAHEALTH_DEPENDENCIES=str(declaration), S3_KEY_ID="AKIADRIPPING", S3_SECRET="dripping"
    )
    command = [sys.executable, "manage.py", *arguments]
    return Process.start(name, command, log=tmp_path / f"{name}.log", env=env)


def wait_for_exit(process: Process, seconds: float) -> float:
    """When (time.monotonic()) the process exited; fails if it is still running."""
    try:
        process.popen.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{process.name} still running after {seconds}s:\n{process.output()}")
    return time.monotonic()


@pytest.mark.django_db(transaction=True)
def test_runprobes_stops_within_2s_of_sigterm_with_every_probe_on_a_dripping_peer(
    tmp_path: Path,
) -> None:
    server = DrippingServer()
    path = tmp_path / "dependencies.yaml"
    s3_declaration(path, server, count=20, timeout="10s")
    process = start(tmp_path, "runprobes", "runprobes", declaration=path)
    try:
        wait_for(lambda: len(server.connections) >= 20 or process.popen.poll() is not None, 60)
        process.check_running()
        process.popen.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        stopped = wait_for_exit(process, 30) - signalled
    finally:
        process.stop()
        server.stop()
    output = process.output()
    assert process.popen.returncode == 0, output
    assert stopped < STOPS_WITHIN, output
    assert "stopped with 20 probes in flight: abandoned" in output
    assert ProbeResult.objects.count() == 0  # abandoned, not recorded as failures


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", ["runprobes --once", "probe"])
def test_one_shot_commands_exit_within_the_timeout_and_2s(tmp_path: Path, command: str) -> None:
    server = DrippingServer()
    path = tmp_path / "dependencies.yaml"
    s3_declaration(path, server, count=20 if command == "runprobes --once" else 1, timeout="3s")
    arguments = command.split() if command != "probe" else ["probe", "drip-0", "--file", str(path)]
    process = start(tmp_path, command.split()[0], *arguments, declaration=path)
    try:
        exited = wait_for_exit(process, 30)
    finally:
        process.stop()
        server.stop()
    output = process.output()
    assert server.connections, output
    # From the first connection the peer saw: each probe started a moment before it.
    assert exited - min(c.opened for c in server.connections) < 3 + EXITS_WITHIN, output
    if command == "probe":
        assert process.popen.returncode == 1, output
        assert "outcome  FAILURE  timeout: no answer within 3s (ListObjectsV2)" in output
    else:
        assert process.popen.returncode == 0, output
        errors = set(Dependency.objects.values_list("last_error", flat=True))
        assert errors == {"timeout: no answer within 3s (ListObjectsV2)"}
        assert ProbeResult.objects.count() == 20
