"""Blockchain JSON-RPC nodes (Ethereum and EVM chains), asked through web3 (rpc_web3.py).

One probe asks the chain id (declared and different: the node is on the wrong network,
down), the latest block and its age (older than max_block_age: a stale node, degraded),
eth_syncing (syncing: degraded) and the client's version; with archive_block, a balance at
that block (a pruned node refuses it: down). Each method's latency is observed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from probes import exposition
from probes.context import ProbeContext
from probes.durations import format_duration
from probes.excerpts import shorten
from probes.exposition import Family
from probes.fields import NAME, NAME_HELP, Fields
from probes.http_peers import check_url, read_headers
from probes.http_peers import speaks_tls as url_speaks_tls
from probes.kinds import rpc_pool
from probes.outcomes import ErrorClass, Outcome, ProbeError
from probes.redaction import redact_url

if TYPE_CHECKING:
    from probes import engine
    from probes.engine import Job

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
    # In a pool (the entry's `pool`; rpc_pool.py): the node to compare with instead of the
    # pool's best head, and how far behind it or the pool a node may be before it is degraded.
    reference: str = ""
    max_lag_blocks: int | None = None  # None: DEFAULT_MAX_LAG_BLOCKS
    max_lag: float | None = field(default=None, metadata={"duration": True})
    max_finality_lag: int | None = None  # blocks of finalized head behind the pool's


def parse(fields: Fields) -> Spec:
    return Spec(
        url=check_url(fields, "url", ("http", "https", "ws", "wss")),
        headers=read_headers(fields),
        chain_id=fields.integer("chain_id", None, minimum=1, maximum=LARGEST_CHAIN_ID),
        max_block_age=fields.duration("max_block_age", None),
        archive_block=fields.integer("archive_block", None, minimum=0, maximum=LARGEST_BLOCK),
        reference=fields.string("reference", "", pattern=NAME, pattern_help=NAME_HELP),
        max_lag_blocks=fields.integer("max_lag_blocks", None, minimum=0, maximum=LARGEST_BLOCK),
        max_lag=fields.duration("max_lag", None),
        max_finality_lag=fields.integer("max_finality_lag", None, minimum=0, maximum=LARGEST_BLOCK),
    )


# Each family and the observation its sample comes from (absent when not observed).
_METRICS = (
    (
        Family(
            "seahealth_rpc_block_age_seconds",
            "gauge",
            "The age of the node's latest block when last probed.",
        ),
        "block_age_seconds",
    ),
    (
        Family(
            "seahealth_rpc_block_number",
            "gauge",
            "The node's latest block number when last probed.",
        ),
        "block_number",
    ),
    (
        Family(
            "seahealth_rpc_lag_blocks",
            "gauge",
            "Blocks the node's head was behind its pool's best head (or its reference's).",
        ),
        "lag_blocks",
    ),
    (
        Family(
            "seahealth_rpc_finalized_lag_blocks",
            "gauge",
            "Blocks the node's finalized block was behind its pool's best finalized block.",
        ),
        "finalized_lag_blocks",
    ),
)
METRIC_FAMILIES = tuple(family for family, _ in _METRICS)


def metric_samples(dependency: str, observations: Mapping[str, Any]) -> list[str]:
    """The node's block age and number, and its lags in a pool, from its last observations:
    a family's block is empty when its figure was not observed (a node that did not answer)."""
    label = f'{{dependency="{dependency}"}}'
    return [
        f"{family.name}{label} {exposition.number(observations[key])}\n"
        if isinstance(observations.get(key), int | float)
        else ""
        for family, key in _METRICS
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
    if _is_block_number(answers.finalized):
        observations["finalized_block"] = answers.finalized
    return _verdict(spec, answers.chain_id, answers.block, answers.syncing, observations)


async def block_at(spec: Spec, ctx: ProbeContext, number: int) -> Outcome:
    """The node's block hash at `number`, for its pool's fork check (rpc_pool.py)."""
    from probes.kinds import rpc_web3

    observations: dict[str, Any] = {}
    found = await rpc_web3.block_hash(spec.url, spec.headers, ctx, observations, number)
    block_hash = _hex(found)
    if block_hash is None:
        raise _wrong_shape(f"eth_getBlockByNumber({number})", found, observations)
    return Outcome(observations={"block_hash": block_hash})


async def judge_pool(
    jobs: Sequence[Job], outcomes: Sequence[Outcome], ask: engine.Ask
) -> list[Outcome]:
    """Each node of a pool judged against the others (rpc_pool.py)."""
    return await rpc_pool.judge(
        jobs, outcomes, lambda job, number: ask(job, partial(block_at, number=number))
    )


def _is_block_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LARGEST_BLOCK


def _hex(value: Any) -> str | None:
    """A block hash as text (web3 gives bytes): `0xab...`; None for anything else."""
    if isinstance(value, bytes) and len(value) == 32:
        return "0x" + value.hex()
    return None


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
    block_hash = _hex(block.get("hash"))
    observations |= {
        "chain_id": chain_id,
        "block_number": number,
        **({"block_hash": block_hash} if block_hash else {}),
        "block_timestamp": timestamp,
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
