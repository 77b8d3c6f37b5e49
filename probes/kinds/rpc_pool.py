"""Pools of RPC nodes: nodes of one chain declared together (`pool: mainnet`), judged
against each other, as node operators do (eRPC, dshackle): a node is only as good as its
head compared with the others'.

A pool is probed at once (the scheduler claims its members together, the engine starts
their probes at the same moment), so heads are compared as read within the same second.
Then, from what each node said:

- its chain: a node on another chain than the pool's (the reference's, or the majority's)
  is down;
- its lag: `lag_blocks` and `lag_seconds` (from the blocks' timestamps) behind the pool's
  best head, or the `reference` node's; more than `max_lag_blocks` (default 5) or `max_lag`
  is degraded;
- its finality: where nodes answer the `finalized` tag, `finalized_lag_blocks` behind the
  pool's best finalized block; more than `max_finality_lag` is degraded;
- forks: at the height every node has (the lowest head), each node's block hash; a node
  whose hash differs from the reference's, or from a majority's, is down ("fork: ...").
  Nodes ahead of that height are asked for that block: a second round, under each node's
  own timeout again, so a pool's probe takes at most twice its timeout.

No database here: the engine hands the members' jobs and outcomes in, and asks the nodes
through `ask`, under the same deadline, secrets and error handling as a probe.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from probes.durations import format_duration
from probes.fields import Problem
from probes.outcomes import ErrorClass, Outcome

if TYPE_CHECKING:
    from probes.dependency_spec import DependencySpec
    from probes.engine import Job

DEFAULT_MAX_LAG_BLOCKS = 5
# What a pool's judgement needs of each node's observations.
HEAD_FIELDS = ("chain_id", "block_number", "block_hash", "block_timestamp")

# ask(job, number): that node's block hash at `number`, through the engine (an Outcome whose
# observations hold "block_hash", or a failure).
Ask = Callable[["Job", int], Awaitable[Outcome]]


def check_declaration(
    specs: Sequence[DependencySpec],
    locate: Callable[[str, str], tuple[str, int | None]],
    source: str,
    problems: list[Problem],
) -> None:
    """A pool's nodes declare no two chain ids nor two references, and its reference is one
    of its nodes. `locate(name, field)` gives an entry's place."""
    pools: dict[str, list[DependencySpec]] = {}
    for spec in specs:
        if spec.pool:
            pools.setdefault(spec.pool, []).append(spec)

    def problem(name: str, field: str, message: str) -> None:
        where, line = locate(name, field)
        problems.append(Problem(source, where, field, message, line))

    for spec in specs:
        reference = reference_of([spec])
        if not reference:
            continue
        members = {member.name for member in pools.get(spec.pool, ())}
        if not spec.pool:
            problem(spec.name, "reference", "only for a node in a pool: declare its `pool`")
        elif reference not in members:
            problem(
                spec.name, "reference", f"'{reference}' is not a node of the pool '{spec.pool}'"
            )
    for pool, members in pools.items():
        for field, what in (("chain_id", "chain"), ("reference", "reference")):
            declared = [(m.name, getattr(m.target, field)) for m in members]
            declared = [(name, value) for name, value in declared if value]
            for name, value in declared[1:]:
                first, first_value = declared[0]
                if value != first_value:
                    problem(
                        name,
                        field,
                        f"the pool '{pool}' has the {what} {first_value} ('{first}' declares "
                        f"it): a pool has one {what}",
                    )


async def judge(jobs: Sequence[Job], outcomes: Sequence[Outcome], ask: Ask) -> list[Outcome]:
    """Each member's outcome, judged against the pool's other members."""
    pool = Pool(jobs, outcomes)
    if len(pool.answered) >= 2:
        await pool.check_forks(ask)
    return pool.verdicts()


class Pool:
    def __init__(self, jobs: Sequence[Job], outcomes: Sequence[Outcome]) -> None:
        self.jobs = list(jobs)
        self.name = jobs[0].spec.pool
        self.outcomes = list(outcomes)
        self.names = [job.spec.name for job in jobs]
        reference_name = reference_of(job.spec for job in jobs)
        self.reference = self.names.index(reference_name) if reference_name in self.names else None
        self.extra: list[dict[str, Any]] = [{"pool": self.name} for _ in jobs]
        self.failures: dict[int, str] = {}
        self.warnings: dict[int, list[str]] = {i: [] for i in range(len(jobs))}
        heads = {
            i: outcome.observations
            for i, outcome in enumerate(outcomes)
            if outcome.ok and all(field in outcome.observations for field in HEAD_FIELDS)
        }
        # The chain: the reference's, or the one most nodes serve.
        chains = {i: head["chain_id"] for i, head in heads.items()}
        chain = self.split(
            chains,
            lambda chain_id, chain: (
                f"chain id {chain_id}: the pool's other nodes serve "
                f"chain {chain} ({self.holding(chains, chain)})"
            ),
            "the pool's nodes serve different chains and no majority says which is right "
            "(declare chain_id or a reference): "
            + ", ".join(f"{self.names[j]} {c}" for j, c in chains.items()),
        )
        # The nodes compared from now on: those on the pool's chain.
        self.answered = {i: head for i, head in heads.items() if chains[i] == chain}
        self.judge_lag()
        self.judge_finality()

    def agreed(self, values: dict[int, Hashable]) -> Any:
        """The value the reference holds when it answered; else the one held by more than half
        of the nodes that answered; else None (no majority: nobody can say who is right)."""
        if self.reference is not None and self.reference in values:
            return values[self.reference]
        counts = Counter(values.values()).most_common(1)
        return counts[0][0] if counts and counts[0][1] * 2 > len(values) else None

    def split(
        self,
        values: dict[int, Hashable],
        failure: Callable[[Any, Any], str],
        no_majority: str,
    ) -> Any:
        """The value agreed (agreed()); each node holding another fails with
        `failure(its value, the agreed one)`. With no agreement and some disagreement, each
        node is warned with `no_majority`."""
        agreed = self.agreed(values)
        for i, value in values.items():
            if agreed is None:
                self.warnings[i].append(no_majority)
            elif value != agreed:
                self.failures[i] = failure(value, agreed)
        return agreed

    def holding(self, values: dict[int, Hashable], value: Hashable) -> str:
        """Who holds `value`: the reference, or "2 of 3 nodes"."""
        if self.reference is not None and self.reference in values:
            return f"the reference '{self.names[self.reference]}'"
        return f"{sum(v == value for v in values.values())} of {len(values)} nodes"

    def best(self, values: dict[int, int]) -> int | None:
        """Who to compare with: the reference when it answered, else the highest."""
        if self.reference is not None and self.reference in values:
            return self.reference
        return max(values, key=values.__getitem__, default=None)

    def judge_lag(self) -> None:
        numbers = {i: head["block_number"] for i, head in self.answered.items()}
        leader = self.best(numbers)
        if leader is None:
            return
        top, top_time = numbers[leader], self.answered[leader]["block_timestamp"]
        for i, head in self.answered.items():
            lag = max(0, top - head["block_number"])
            lag_seconds = max(0, top_time - head["block_timestamp"])
            self.extra[i] |= {
                "pool_head": top,
                "pool_head_node": self.names[leader],
                "lag_blocks": lag,
                "lag_seconds": lag_seconds,
            }
            spec = self.jobs[i].spec.target
            most = DEFAULT_MAX_LAG_BLOCKS if spec.max_lag_blocks is None else spec.max_lag_blocks
            behind = f"block {head['block_number']} is {lag} blocks"
            whom = f"{self._whose(leader)} {top}"
            if lag > most:
                self.warnings[i].append(
                    f"behind: {behind} behind {whom}, over max_lag_blocks {most}"
                )
            elif spec.max_lag is not None and lag_seconds > spec.max_lag:
                self.warnings[i].append(
                    f"behind: {behind} ({format_duration(lag_seconds)}) behind {whom}, "
                    f"over max_lag {format_duration(spec.max_lag)}"
                )

    def judge_finality(self) -> None:
        finalized = {
            i: head["finalized_block"]
            for i, head in self.answered.items()
            if isinstance(head.get("finalized_block"), int)
        }
        leader = self.best(finalized)
        if leader is None:
            return
        for i, number in finalized.items():
            lag = max(0, finalized[leader] - number)
            self.extra[i]["finalized_lag_blocks"] = lag
            most = self.jobs[i].spec.target.max_finality_lag
            if most is not None and lag > most:
                self.warnings[i].append(
                    f"finality behind: finalized block {number} is {lag} blocks behind "
                    f"{self._whose(leader)} finalized {finalized[leader]}, "
                    f"over max_finality_lag {most}"
                )

    def _whose(self, i: int) -> str:
        role = "the reference" if i == self.reference else "the pool's best"
        return f"{role} ('{self.names[i]}')"

    async def check_forks(self, ask: Ask) -> None:
        """Each node's block hash at the lowest head of the pool, compared."""
        height = min(head["block_number"] for head in self.answered.values())
        hashes = {
            i: head["block_hash"]
            for i, head in self.answered.items()
            if head["block_number"] == height
        }
        ahead = [i for i, head in self.answered.items() if head["block_number"] != height]
        answers = await asyncio.gather(*(ask(self.jobs[i], height) for i in ahead))
        for i, outcome in zip(ahead, answers, strict=True):
            if outcome.ok and isinstance(outcome.observations.get("block_hash"), str):
                hashes[i] = outcome.observations["block_hash"]
            else:
                self.extra[i]["fork_check"] = f"no answer for block {height}: {outcome.error}"
        self.split(
            hashes,
            lambda block_hash, canonical: (
                f"fork: block {height} hash {block_hash[:10]}.. "
                f"differs from {self.holding(hashes, canonical)} ({canonical[:10]}..)"
            ),
            f"fork: the pool's nodes disagree on block {height} and no majority says which "
            "is right (declare a reference): "
            + ", ".join(f"{self.names[j]} {h[:10]}.." for j, h in hashes.items()),
        )

    def verdicts(self) -> list[Outcome]:
        judged = []
        for i, outcome in enumerate(self.outcomes):
            observations = {**outcome.observations, **self.extra[i]}
            if i in self.failures:
                judged.append(
                    dataclasses.replace(
                        outcome,
                        error_class=ErrorClass.UNEXPECTED_RESPONSE,
                        detail=self.failures[i],
                        observations=observations,
                        latency_ms=None,
                        failing=True,
                    )
                )
            else:
                warnings = (*outcome.warnings, *self.warnings[i])
                judged.append(
                    dataclasses.replace(outcome, warnings=warnings, observations=observations)
                )
        return judged


def reference_of(specs: Iterable[DependencySpec]) -> str:
    """The pool's reference: the node its members name (one per pool, check_declaration)."""
    references = (getattr(spec.target, "reference", "") for spec in specs)
    return next((name for name in references if name), "")
