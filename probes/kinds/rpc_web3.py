"""The web3 side of the rpc kind, imported on the first probe of a node (web3 is slow to load).

Over HTTP(S), web3 speaks through the batch's shared httpx client (DESIGN.md: one client per
batch, never one per probe), so the TLS certificate is observed and errors are classified as
for any HTTP peer. ws:// and wss:// go through web3's WebSocketProvider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from web3 import AsyncWeb3, WebSocketProvider
from web3.exceptions import BadResponseFormat, ProviderConnectionError, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.async_base import AsyncJSONBaseProvider
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from probes import tls
from probes.classify import causes, classify_network_error
from probes.context import ProbeContext
from probes.http_peers import (
    HTTPX_ERRORS,
    FirstByte,
    classify_httpx_error,
    excerpt_body,
    read_limited,
    refusal,
    refusal_class,
    tls_observations,
)
from probes.outcomes import ErrorClass, ProbeError

T = TypeVar("T")
# A JSON-RPC answer to these calls is a few kilobytes; more is not an answer to them.
MAX_ANSWER_SIZE = 1024 * 1024
# JSON-RPC errors that providers answer when a caller asks too often: EIP-1474's "limit
# exceeded" (Infura, Chainstack, Alchemy's JSON-RPC form) and QuickNode's "request limit
# reached".
RATE_LIMIT_CODES = {-32005, -32007}
# Blocks of proof-of-authority chains (BSC, Polygon) carry a longer extraData.
MIDDLEWARE = [ExtraDataToPOAMiddleware]


# The calls that say whether the node follows its chain: the node's latency is theirs.
HEAD_METHODS = {"eth_chainId", "eth_getBlockByNumber", "eth_syncing"}
# How a finalized block is asked for, and its latency named.
FINALIZED = "eth_getBlockByNumber(finalized)"
# Whose balance an archive read asks for: any address has one at every block.
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class Answers:
    """What the node said, as web3 formats it."""

    chain_id: Any
    block: Any
    syncing: Any
    client_version: str | None  # None: the node does not say (web3_clientVersion refused)
    finalized: Any  # its finalized block's number; None: it does not say


async def ask(
    url: str,
    headers: dict[str, str],
    ctx: ProbeContext,
    observations: dict[str, Any],
    archive_block: int | None = None,
) -> Answers:
    """eth_chainId, the latest block, eth_syncing and web3_clientVersion at once; and, with
    `archive_block`, a balance at that block (a pruned node refuses it)."""
    return await _with_node(
        url, headers, ctx, observations, lambda w3: _ask(w3, ctx, observations, archive_block)
    )


async def _with_node(
    url: str,
    headers: dict[str, str],
    ctx: ProbeContext,
    observations: dict[str, Any],
    ask: Callable[[AsyncWeb3], Awaitable[T]],
) -> T:
    """`ask` the node at `url`: over HTTP(S) through the batch's client, over a websocket
    through a connection of its own, closed after."""
    if not url.lower().startswith(("ws://", "wss://")):
        provider = SharedClientProvider(url, headers, ctx, observations)
        return await ask(AsyncWeb3(provider, middleware=MIDDLEWARE))
    options: dict[str, Any] = {"additional_headers": headers or None}
    if url.lower().startswith("wss://"):
        options["ssl"] = ctx.ssl_context
    # One probe is one try (web3 counts attempts): the prober's schedule is the retry.
    provider = WebSocketProvider(url, websocket_kwargs=options, max_connection_retries=1)
    try:
        async with AsyncWeb3(provider, middleware=MIDDLEWARE) as w3:
            observations.update(_websocket_tls(provider))
            return await ask(w3)
    except (OSError, ProviderConnectionError, asyncio.IncompleteReadError) as exc:
        raise _websocket_failure(exc) from exc


def _websocket_tls(provider: WebSocketProvider) -> dict[str, Any]:
    """The certificate of a wss:// node, as for https:// (its expiry is warned of alike)."""
    transport = getattr(getattr(provider, "_ws", None), "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    return tls.observe(ssl_object) if ssl_object is not None else {}


def _websocket_failure(exc: BaseException) -> ProbeError:
    """Why a websocket could not be opened: the network, or an HTTP server that answered the
    handshake with something else than a WebSocket (a page, a 404, a login)."""
    for cause in causes(exc):
        if isinstance(cause, InvalidStatus):
            code = cause.response.status_code
            status = f"{code} {cause.response.reason_phrase}".strip()
            return ProbeError(
                refusal_class(code) if code >= 300 else ErrorClass.PROTOCOL,
                f"websocket handshake: HTTP {status} instead of 101: not a WebSocket endpoint",
            )
        if isinstance(cause, InvalidHandshake):
            return ProbeError(ErrorClass.PROTOCOL, f"websocket handshake: {cause}")
    # web3 words it "Could not connect to <url>": not a word of that reaches the detail.
    return classify_network_error(exc) or ProbeError(ErrorClass.CONNECT, "could not connect")


async def _ask(
    w3: AsyncWeb3, ctx: ProbeContext, observations: dict[str, Any], archive_block: int | None
) -> Answers:
    def call(name: str, method: str, function: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        return _call(ctx, name, method, function, observations)

    calls = [
        call("eth_chainId", "eth_chainId", lambda: w3.eth.chain_id),
        call(
            "eth_getBlockByNumber(latest)",
            "eth_getBlockByNumber",
            lambda: w3.eth.get_block("latest"),
        ),
        call("eth_syncing", "eth_syncing", lambda: w3.eth.syncing),
        _optional(w3.client_version, "web3_clientVersion", observations),
        _optional(w3.eth.get_block("finalized"), FINALIZED, observations),
    ]
    if archive_block is not None:
        calls.append(
            call(
                f"eth_getBalance(block {archive_block})",
                "eth_getBalance",
                lambda: w3.eth.get_balance(ZERO_ADDRESS, block_identifier=archive_block),
            )
        )
    tasks = [asyncio.ensure_future(each) for each in calls]
    try:
        chain_id, block, syncing, version, finalized, *_ = await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()  # the first failure is the answer: the others need not finish
    return Answers(
        chain_id,
        block,
        syncing,
        version if isinstance(version, str) else None,
        getattr(finalized, "get", lambda _: None)("number"),
    )


async def _optional(call: Awaitable[Any], method: str, observations: dict[str, Any]) -> Any:
    """What the node says to a question it need not answer (its version: `Geth/v1.14.11...`;
    its finalized block, which a chain without finality has not): a node that refuses is no
    less healthy, so a refusal is None."""
    started = time.perf_counter()
    try:
        answer = await call
    except (
        ProbeError,
        Web3RPCError,
        BadResponseFormat,
        ProviderConnectionError,
        ConnectionClosed,
        ValueError,
    ):
        return None
    _method_latency(observations, method, started)
    return answer


async def block_hash(
    url: str, headers: dict[str, str], ctx: ProbeContext, observations: dict[str, Any], number: int
) -> Any:
    """The hash of the node's block `number` (a pool's fork check), as web3 formats it."""

    async def ask(w3: AsyncWeb3) -> Any:
        block = await _call(
            ctx,
            f"eth_getBlockByNumber({number})",
            "eth_getBlockByNumber",
            lambda: w3.eth.get_block(number),
            observations,
        )
        return block.get("hash") if hasattr(block, "get") else None

    return await _with_node(url, headers, ctx, observations, ask)


def _method_latency(observations: dict[str, Any], method: str, started: float) -> None:
    """The call's time, unless its wait for the answer was measured (over HTTP: the
    provider's, from the request sent to the answer's headers, which is the node's)."""
    latencies = observations.setdefault("method_latency_ms", {})
    latencies.setdefault(method, round((time.perf_counter() - started) * 1000, 3))


async def _call(
    ctx: ProbeContext,
    name: str,
    method: str,
    call: Callable[[], Awaitable[Any]],
    observations: dict[str, Any],
) -> Any:
    with ctx.step(name):
        started = time.perf_counter()
        try:
            answer = await call()
            _method_latency(observations, method, started)
            return answer
        except Web3RPCError as exc:
            error = (exc.rpc_response or {}).get("error")
            if isinstance(error, dict) and "message" in error:
                reason = f"JSON-RPC error {error.get('code')}: {error['message']}"
            else:
                reason = f"JSON-RPC error: {exc.message}"
            throttled = isinstance(error, dict) and error.get("code") in RATE_LIMIT_CODES
            error_class = ErrorClass.RATE_LIMITED if throttled else ErrorClass.UNEXPECTED_RESPONSE
            raise ProbeError(error_class, f"{name}: {reason}") from exc
        except BadResponseFormat as exc:
            raise ProbeError(ErrorClass.PROTOCOL, f"{name}: not a JSON-RPC answer") from exc
        except ProviderConnectionError as exc:
            found = classify_network_error(exc)
            raise found or ProbeError(ErrorClass.CONNECT, f"{name}: {exc}") from exc
        except ConnectionClosed as exc:
            # The node (or a proxy before it) closed the websocket before answering.
            raise ProbeError(ErrorClass.CONNECT, f"{name}: websocket closed ({exc})") from exc
        except (KeyError, TypeError, ValueError) as exc:
            # web3's result formatters met an answer of the wrong shape.
            raise ProbeError(
                ErrorClass.UNEXPECTED_RESPONSE, f"{name}: an answer of the wrong shape ({exc!r})"
            ) from exc


class SharedClientProvider(AsyncJSONBaseProvider):
    """Encodes and decodes with web3, sends with the batch's httpx client.

    web3's own AsyncHTTPProvider would open an aiohttp session per probe, hide the TLS
    certificate and raise errors of its own.
    """

    def __init__(
        self, url: str, headers: dict[str, str], ctx: ProbeContext, observations: dict[str, Any]
    ) -> None:
        super().__init__()
        self.url = url
        self.headers = {**headers, "Content-Type": "application/json"}
        self.ctx = ctx
        self.observations = observations

    async def make_request(self, method: str, params: Any) -> Any:
        request = self.encode_rpc_request(method, params)
        timer = FirstByte()
        try:
            async with self.ctx.http.stream(
                "POST",
                self.url,
                content=request,
                headers=self.headers,
                extensions={"trace": timer.trace},
            ) as response:
                self.observations.update(tls_observations(response))
                body, truncated = await read_limited(response, MAX_ANSWER_SIZE)
        except HTTPX_ERRORS as exc:
            raise classify_httpx_error(exc) from exc
        if timer.ms is not None:
            if method == "eth_getBlockByNumber" and params and params[0] == "finalized":
                method = FINALIZED  # not the latest block's: a question of its own
            self.observations.setdefault("method_latency_ms", {})[method] = timer.ms
            if method in HEAD_METHODS:
                # The calls go at once: the node's latency is the slowest one's wait (not an
                # archive read's, which is a check of its own, nor the version's).
                timings = self.observations.setdefault("timings_ms", {})
                timings["first_byte"] = max(timer.ms, timings.get("first_byte", 0.0))
        if response.status_code != 200:
            code = response.status_code
            status = f"{code} {response.reason_phrase}".strip()
            raise refusal(code, f"{method}: HTTP {status}", response.headers)
        if truncated:
            raise ProbeError(ErrorClass.PROTOCOL, f"{method}: an answer over 1 MiB")
        try:
            return self.decode_rpc_response(body)
        except ValueError as exc:
            raise ProbeError(
                ErrorClass.PROTOCOL, f"{method}: the answer is not JSON: {excerpt_body(body)}"
            ) from exc
