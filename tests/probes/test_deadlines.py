"""No probe outlives its deadline (issue 9): whatever its kind, when the deadline passes the
probe's connection is closed and no seahealth thread is left working for it.

The peers drip their answer a byte at a time, forever: every byte resets a read timeout, so
only a deadline on the whole exchange ends it.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from probes.engine import Job, run_batch
from probes.kinds import KINDS
from probes.outcomes import ErrorClass
from tests.servers import HTTP_DRIP, SMTP_DRIP, TLS_DRIP, DrippingServer, unused_port
from tests.threads import busy_probe_threads

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
    for kind in KINDS.values():
        if hasattr(kind, "prepare"):
            kind.prepare()
    warm_up = {"bucket": "documents", "endpoint_url": f"http://127.0.0.1:{unused_port()}"}
    warm_up |= {"region": "eu-west-1", "access_key_id": "AKIAWARMUP", "secret_access_key": "-"}
    asyncio.run(run_batch([Job(1, "warm-up", "s3", 30, 30, warm_up)], environ={}))


@pytest.mark.parametrize("case", CASES)
def test_the_deadline_closes_the_connection_and_frees_every_thread(case: str) -> None:
    kind, opening, prelude, spec = CASES[case]
    server = DrippingServer(opening, prelude=prelude)
    try:
        # The probe's deadline passes no earlier than this: it starts once the batch is set up.
        deadline = time.monotonic() + TIMEOUT
        job = Job(1, "dripping", kind, interval=30, timeout=TIMEOUT, spec=spec(server))
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
