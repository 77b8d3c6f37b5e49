"""httpcore's network layer on asyncio's own transports, for the probes' HTTP clients.

httpcore reaches the network through anyio by default: a cancel scope around every read
and write, a task group and happy-eyeballs tasks around every connect. At several hundred
probes a second that was a third of the probing process's time (py-spy: anyio's cancel
scopes and current_task() above all), and probes pass no timeouts for it to enforce: the
engine's deadline cancels the probe from outside. This backend reads and writes through
an asyncio Protocol, does TLS with loop.start_tls, and raises httpcore's exceptions with
the socket's or TLS error as their cause, as anyio's backend does (classify.py reads it).

It is used through `transport(...)`, an httpx transport whose connection pool runs on it.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

# A peer that sends faster than the probe reads is paused past this much unread data.
HIGH_WATER = 256 * 1024


class _Receiving(asyncio.Protocol):
    """Buffers what arrives until read() takes it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False  # end of stream, or the connection lost
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None and not self.paused:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def read(self, max_bytes: int) -> bytes:
        while not self.buffer and not self.ended:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        if not self.buffer and self.error is not None:
            raise httpcore.ReadError(str(self.error) or type(self.error).__name__) from self.error
        data = bytes(self.buffer[:max_bytes])
        del self.buffer[:max_bytes]
        if self.paused and len(self.buffer) < HIGH_WATER // 2 and self.transport is not None:
            self.transport.resume_reading()
            self.paused = False
        return data


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Receiving) -> None:
        self._transport = transport
        self._protocol = protocol

    # httpcore's interface passes a timeout; probes give none (the engine's deadline rules).
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._protocol.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        if self._transport.is_closing():
            error = self._protocol.error
            raise httpcore.WriteError(str(error or "the connection is closed")) from error
        self._transport.write(buffer)

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport, self._protocol, ssl_context, server_hostname=server_hostname
            )
        except BaseException as exc:
            # Failed or cancelled mid-handshake (a deadline): the socket goes with it.
            self._transport.abort()
            if isinstance(exc, OSError | EOFError):
                raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
            raise
        if transport is None:  # the peer closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        return _Stream(transport, self._protocol)  # type: ignore[arg-type]

    def get_extra_info(self, info: str) -> Any:
        if info in ("ssl_object", "socket"):
            return self._transport.get_extra_info(info)
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "is_readable":
            return bool(self._protocol.buffer) or self._protocol.ended
        return None


class Backend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_connection(
                _Receiving,
                host,
                port,
                local_addr=(local_address, 0) if local_address else None,
            )
        except OSError as exc:  # a refusal, an unreachable network, DNS (socket.gaierror)
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Stream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_unix_connection(_Receiving, path)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return _Stream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _Transport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request and error mapping), its pool on Backend."""

    def __init__(self, ssl_context: ssl.SSLContext, max_connections: int) -> None:
        super().__init__(verify=ssl_context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            # No keep-alive: every probe measures a full connect (and TLS handshake).
            max_keepalive_connections=0,
            network_backend=Backend(),
        )


def transport(ssl_context: ssl.SSLContext, max_connections: int) -> httpx.AsyncBaseTransport:
    return _Transport(ssl_context, max_connections)
