"""Ethereum JSON-RPC nodes on loopback for the tests: ganache (from npm, installed by make
test), started as a subprocess, and the calls that shape their chains (evm_mine with a set
timestamp, snapshots).

Nodes started with the same chain id and CHAIN_START share their genesis block, and blocks
mined on each with the same timestamps are the same blocks (same hashes): one chain, with
heads as far apart as the test mines them. Blocks mined with other timestamps make a fork.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import missing
from tests.servers import unused_port

GANACHE = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "ganache"
CHAIN_ID = 1337
# The genesis block's time (so its hash) for every node started here.
CHAIN_START = "2026-01-01T00:00:00Z"
GENESIS_TIMESTAMP = 1767225600


@contextlib.contextmanager
def running(chain_id: int = CHAIN_ID, genesis: str | None = CHAIN_START) -> Iterator[str]:
    """A ganache node on loopback; its HTTP URL (ws:// on the same port). Its genesis block
    is at `genesis` (None: now, so that the chain looks fresh)."""
    if not GANACHE.exists():
        missing(f"ganache is not installed at {GANACHE} (make test runs npm ci)")
    port = unused_port()
    arguments = ["--host", "127.0.0.1", "--port", str(port), "--chain.chainId", str(chain_id)]
    arguments += ["--wallet.deterministic", "--logging.quiet"]
    arguments += ["--chain.time", genesis] if genesis else []
    process = subprocess.Popen(
        [str(GANACHE), *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                call(url, "eth_chainId")
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ganache did not start: {process.stderr.read()}") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def call(url: str, method: str, *params: Any) -> Any:
    answer = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    ).json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def mine(url: str, blocks: int, first_timestamp: int, step: int = 12) -> None:
    """Mine `blocks` empty blocks, the first at `first_timestamp`, then one every `step` s:
    the same calls on two nodes at the same head mine the same blocks."""
    for n in range(blocks):
        call(url, "evm_mine", {"timestamp": first_timestamp + n * step})


def head(url: str) -> int:
    return int(call(url, "eth_blockNumber"), 16)


@contextlib.contextmanager
def reverted(*urls: str) -> Iterator[None]:
    """What is mined on the nodes inside is undone after: each back at its genesis block."""
    snapshots = [call(url, "evm_snapshot") for url in urls]
    try:
        yield
    finally:
        for url, snapshot in zip(urls, snapshots, strict=True):
            call(url, "evm_revert", snapshot)
