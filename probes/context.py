"""What probes use to reach their peers.

A Batch is shared by the probes of one batch: one HTTP client and one TLS context per CA
bundle, never one per probe (creating an httpx client costs ~25 ms). A ProbeContext is one
probe's view of it, with the steps that probe has taken (for `manage.py probe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from probes import asyncio_network
from probes.outcomes import ErrorClass, ProbeError, Step

USER_AGENT = "seahealth/0.1 (+dependency health probe)"
T = TypeVar("T")

# For the CPU work of client libraries that block (botocore builds, signs and parses there)
# and the credential lookups they make on first use. No probe's peer is ever waited on in
# these threads: every exchange with a peer runs on the event loop, where the deadline ends
# it, so a few threads serve any number of probes, however slow their peers.
_BLOCKING = ThreadPoolExecutor(max_workers=8, thread_name_prefix="seahealth-blocking")


# TLS contexts by CA bundle and the bundle's modification time: loading the system's store
# takes some 20 ms, once per process; a bundle that changes is loaded again.
_SSL_CONTEXTS: dict[tuple[str | None, int], ssl.SSLContext] = {}
_SSL_BUILDING = threading.Lock()


def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verifying against the system's CA store (SSL_CERT_FILE too), or only `ca_file`."""
    try:
        key = (ca_file, os.stat(ca_file).st_mtime_ns if ca_file else 0)
        with _SSL_BUILDING:
            if key not in _SSL_CONTEXTS:
                _SSL_CONTEXTS[key] = ssl.create_default_context(cafile=ca_file)
            return _SSL_CONTEXTS[key]
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ProbeError(ErrorClass.CONFIG, f"ca_file {ca_file}: {reason}") from exc


# An httpx pool looks at every request it holds on every event: a client serving hundreds
# of probes at once spends more on that than on the probes (1.1 ms of CPU a probe at 500 at
# once, 0.7 ms at 8). So a client serves this many probes at once, at most; more probes
# take more clients. A Celery batch (SEAHEALTH_BATCH_SIZE) fits in one.
PROBES_PER_CLIENT = 50
# A probe may hold several connections at once (an rpc probe asks three questions at once).
CONNECTIONS_PER_PROBE = 4


class Batch:
    """What a batch of probes shares: HTTP clients per CA bundle, each leased to at most
    PROBES_PER_CLIENT probes at once."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._http: dict[str | None, dict[httpx.AsyncClient, int]] = {}  # client -> probes

    def ssl_context(self, ca_file: str | None = None) -> ssl.SSLContext:
        return ssl_context(ca_file)

    def lease(self, ca_file: str | None = None) -> httpx.AsyncClient:
        """A client for one probe, to release() when it ends."""
        clients = self._http.setdefault(ca_file, {})
        client = next((c for c, probes in clients.items() if probes < PROBES_PER_CLIENT), None)
        if client is None:
            limit = min(self.max_connections, PROBES_PER_CLIENT) * CONNECTIONS_PER_PROBE
            client = new_http_client(self.ssl_context(ca_file), limit)
        clients[client] = clients.get(client, 0) + 1
        return client

    def release(self, ca_file: str | None, client: httpx.AsyncClient) -> None:
        self._http[ca_file][client] -= 1

    def prepare(self, ca_files: set[str | None]) -> None:
        """Build the clients before the probes start, so no probe's latency pays for them."""
        for ca_file in ca_files:
            # A bad ca_file: the probes that name it report it.
            with contextlib.suppress(ProbeError):
                if not self._http.get(ca_file):
                    self.release(ca_file, self.lease(ca_file))

    def probe_context(self, ca_file: str | None = None, timeout: float = 30.0) -> ProbeContext:
        return ProbeContext(self, ca_file, timeout)

    async def aclose(self) -> None:
        for clients in self._http.values():
            for client in clients:
                await client.aclose()


def new_http_client(ssl_context: ssl.SSLContext, max_connections: int) -> httpx.AsyncClient:
    """An HTTP client as probes use it; a batch shares one per CA bundle."""
    return httpx.AsyncClient(
        # Its pool on asyncio's transports (asyncio_network.py): anyio's cost a third more.
        transport=asyncio_network.transport(ssl_context, max_connections),
        # For the proxies' transports, when HTTP(S)_PROXY asks for them:
        verify=ssl_context,
        # The engine enforces each probe's deadline from outside; a second clock here would
        # only race it.
        timeout=None,  # noqa: S113
        follow_redirects=False,
        # No keep-alive: every probe measures a full connect (and TLS handshake), as a
        # client of the dependency sees it after an idle spell. One connection per probe,
        # so no probe waits on the pool for another's.
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=0),
        headers={"User-Agent": USER_AGENT},
        # Proxies come from HTTP_PROXY, HTTPS_PROXY and NO_PROXY, as for any client.
        trust_env=True,
        event_hooks={"request": [_guard_handshake]},
    )


async def _guard_handshake(request: httpx.Request) -> None:
    request.extensions["trace"] = _HandshakeGuard(request.extensions.get("trace"))


class _HandshakeGuard:
    """Closes the TCP connection when its TLS handshake ends without completing.

    httpcore (1.0) closes it when the handshake fails, but not when it is cancelled: a
    peer that drips its handshake would keep its socket open past the probe's deadline.
    Wraps the request's own trace callback, if it has one.
    """

    def __init__(self, inner: Callable[[str, dict[str, Any]], Awaitable[None]] | None) -> None:
        self.inner = inner
        self.stream: Any = None

    async def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            self.stream = info.get("return_value")
        elif event == "connection.start_tls.failed" and self.stream is not None:
            await self.stream.aclose()
        if self.inner is not None:
            await self.inner(event, info)


@asynccontextmanager
async def open_batch(max_connections: int) -> AsyncIterator[Batch]:
    batch = Batch(max_connections)
    try:
        yield batch
    finally:
        await batch.aclose()


@dataclass
class ProbeContext:
    batch: Batch
    ca_file: str | None = None
    # The probe's deadline, enforced by the engine; for what outlives the probe and needs a
    # bound of its own (probes/leftovers.py), never as a second deadline.
    timeout: float = 30.0
    steps: list[Step] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    _client: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The batch's HTTP client this probe is leased (the same one for all its requests)."""
        if self._client is None:
            self._client = self.batch.lease(self.ca_file)
        return self._client

    def release(self) -> None:
        """The probe has ended: its client may serve another."""
        if self._client is not None:
            self.batch.release(self.ca_file, self._client)
            self._client = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return self.batch.ssl_context(self.ca_file)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time what the block does, and whether it raised, as one step of the probe."""
        started = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            self.steps.append(Step(name, (time.perf_counter() - started) * 1000, ok))

    async def run_blocking(self, function: Callable[..., T], *args: Any) -> T:
        """Run a blocking call off the event loop; the deadline still ends the wait.

        For CPU work (and a client's first credential lookup), never a wait on a peer: the
        deadline cannot stop a thread, only stop waiting for it.
        """
        return await asyncio.get_running_loop().run_in_executor(_BLOCKING, function, *args)
