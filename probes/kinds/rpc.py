"""Blockchain JSON-RPC nodes (Ethereum and EVM chains), asked through web3 (rpc_web3.py).

One probe asks the chain id (declared and different: the node is on the wrong network,
down), the latest block and its age (older than max_block_age: a stale node, degraded),
eth_syncing (syncing: degraded) and the client's version; with archive_block, a balance at
that block (a pruned node refuses it: down). Each method's latency is observed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from probes import exposition
from probes.context import ProbeContext
from probes.durations import format_duration
from probes.excerpts import shorten
from probes.exposition import Family
from probes.fields import Fields
from probes.http_peers import check_url, read_headers
from probes.http_peers import speaks_tls as url_speaks_tls
from probes.outcomes import ErrorClass, Outcome, ProbeError
from probes.redaction import redact_url

# EIP-2294's bound on chain ids, within what a JSON number keeps exactly.
LARGEST_CHAIN_ID = 2**53 - 1
LARGEST_BLOCK = 2**53 - 1


@dataclass(frozen=True, kw_only=True)
class Spec:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    chain_id: int | None = None  # declared: another chain is down
    # seconds; an older latest block is degraded
    max_block_age: float | None = field(default=None, metadata={"duration": True})
    # A block whose state the node must still serve (an archive node): a pruned one fails.
    archive_block: int | None = None


def parse(fields: Fields) -> Spec:
    return Spec(
        url=check_url(fields, "url", ("http", "https", "ws", "wss")),
        headers=read_headers(fields),
        chain_id=fields.integer("chain_id", None, minimum=1, maximum=LARGEST_CHAIN_ID),
        max_block_age=fields.duration("max_block_age", None),
        archive_block=fields.integer("archive_block", None, minimum=0, maximum=LARGEST_BLOCK),
    )


METRIC_FAMILIES = (
    Family(
        "seahealth_rpc_block_age_seconds",
        "gauge",
        "The age of the node's latest block when last probed.",
    ),
    Family(
        "seahealth_rpc_block_number",
        "gauge",
        "The node's latest block number when last probed.",
    ),
)


def metric_samples(dependency: str, observations: Mapping[str, Any]) -> list[str]:
    """The node's block age and number, from its last observations."""
    if "block_number" not in observations:
        return ["", ""]
    age, number = METRIC_FAMILIES
    label = f'{{dependency="{dependency}"}}'
    return [
        f"{age.name}{label} {exposition.number(observations['block_age_seconds'])}\n",
        f"{number.name}{label} {exposition.number(observations['block_number'])}\n",
    ]


def speaks_tls(spec: Spec) -> bool | None:
    return url_speaks_tls(spec.url)


def describe(spec: Spec) -> str:
    checks = [f"chain {spec.chain_id}"] if spec.chain_id else []
    if spec.max_block_age:
        checks.append(f"blocks under {format_duration(spec.max_block_age)} old")
    if spec.archive_block is not None:
        checks.append(f"archive reads at block {spec.archive_block}")
    return redact_url(spec.url) + (f" ({', '.join(checks)})" if checks else "")


def prepare() -> None:
    """Import web3 (half a second) once, before the batch's probes start: only a prober
    that probes a node pays for it, and never inside a probe's latency."""
    import probes.kinds.rpc_web3  # noqa: F401


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    from probes.kinds import rpc_web3

    observations: dict[str, Any] = {}
    answers = await rpc_web3.ask(spec.url, spec.headers, ctx, observations, spec.archive_block)
    if answers.client_version:
        observations["client_version"] = shorten(answers.client_version, 120)
    return _verdict(spec, answers.chain_id, answers.block, answers.syncing, observations)


def _verdict(spec: Spec, chain_id: Any, block: Any, syncing: Any, observations: dict) -> Outcome:
    if not isinstance(chain_id, int) or isinstance(chain_id, bool):
        raise _wrong_shape("eth_chainId", chain_id, observations)
    number, timestamp = (
        (block.get("number"), block.get("timestamp")) if hasattr(block, "get") else (None, None)
    )
    if not all(isinstance(value, int) for value in (number, timestamp)):
        raise _wrong_shape("eth_getBlockByNumber(latest)", block, observations)
    if not isinstance(syncing, bool) and not hasattr(syncing, "get"):
        raise _wrong_shape("eth_syncing", syncing, observations)
    age = max(0.0, time.time() - timestamp)
    observations |= {
        "chain_id": chain_id,
        "block_number": number,
        "block_age_seconds": round(age, 1),
        "syncing": bool(syncing),
    }
    if spec.chain_id is not None and chain_id != spec.chain_id:
        raise ProbeError(
            ErrorClass.UNEXPECTED_RESPONSE,
            f"chain id {chain_id}, expected {spec.chain_id}: the node serves another network",
            observations,
        )
    warnings = []
    if spec.max_block_age is not None and age > spec.max_block_age:
        warnings.append(
            f"stale: latest block {number} is {format_duration(round(age))} old, "
            f"over max_block_age {format_duration(spec.max_block_age)}"
        )
    if syncing:
        progress = ""
        if hasattr(syncing, "get") and syncing.get("highestBlock"):
            progress = f" (block {syncing.get('currentBlock')} of {syncing.get('highestBlock')})"
        warnings.append(f"the node is syncing{progress}")
    # The peer's latency: over HTTP, the slowest of the three calls' waits for its answer
    # (none over a websocket: the whole probe, then).
    latency = observations.get("timings_ms", {}).get("first_byte")
    return Outcome(observations=observations, warnings=tuple(warnings), latency_ms=latency)


def _wrong_shape(call: str, answer: Any, observations: dict) -> ProbeError:
    shown = shorten(json.dumps(answer, default=str), 80)
    return ProbeError(
        ErrorClass.UNEXPECTED_RESPONSE,
        f"{call}: an answer of the wrong shape: {shown}",
        observations,
    )
