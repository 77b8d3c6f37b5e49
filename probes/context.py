"""What the probes of one batch share: one HTTP client and one TLS context, never one per probe."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

USER_AGENT = "seahealth/0.1 (+dependency health probe)"


@dataclass(frozen=True)
class ProbeContext:
    http: httpx.AsyncClient
    ssl_context: ssl.SSLContext


@asynccontextmanager
async def open_context(max_connections: int) -> AsyncIterator[ProbeContext]:
    # The system's CA store (honours SSL_CERT_FILE), as curl would trust.
    ssl_context = ssl.create_default_context()
    client = httpx.AsyncClient(
        verify=ssl_context,
        # The engine enforces each probe's deadline from outside; a second clock here
        # would only race it.
        timeout=None,  # noqa: S113
        follow_redirects=False,
        # No keep-alive: every probe measures a full connect (and TLS handshake), as a
        # client of the dependency would see it after an idle spell.
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=0),
        headers={"User-Agent": USER_AGENT},
        # Proxies come from HTTP_PROXY, HTTPS_PROXY and NO_PROXY, as for any client.
        trust_env=True,
    )
    async with client:
        yield ProbeContext(http=client, ssl_context=ssl_context)
