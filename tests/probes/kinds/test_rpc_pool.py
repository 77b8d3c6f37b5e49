"""Pools of RPC nodes against real nodes: three ganache nodes of one chain (and one of
another), their heads moved apart with evm_mine, their chains forked from one genesis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.declarations import DeclarationError, parse_declaration
from probes.engine import run_batch
from probes.kinds import rpc_pool
from probes.outcomes import ErrorClass, Outcome, Result
from tests.conftest import ROOT
from tests.factories import make_job
from tests.ganache import GENESIS_TIMESTAMP, head, mine, reverted, running
from tests.servers import unused_port

pytestmark = pytest.mark.no_database

# Where the tests' blocks start: an hour after genesis, one every 12 s.
T = GENESIS_TIMESTAMP + 3600


@pytest.fixture(scope="module")
def chain() -> Iterator[dict[str, str]]:
    """Three nodes of chain 1337 (a, b, c) and one of chain 5 (other)."""
    with running() as a, running() as b, running() as c, running(chain_id=5) as other:
        yield {"a": a, "b": b, "c": c, "other": other}


@pytest.fixture
def nodes(chain: dict[str, str]) -> Iterator[dict[str, str]]:
    """The nodes, each back at its genesis block after the test."""
    with reverted(*chain.values()):
        yield chain


def probe_pool(nodes: dict[str, str], **declared: dict) -> dict[str, Outcome]:
    """The outcome of each node named in `declared` (its rpc fields beyond its url), probed as
    the pool `main`."""
    jobs = [
        make_job("rpc", {"url": nodes[name], **fields}, name=name, number=n, pool="main")
        for n, (name, fields) in enumerate(declared.items())
    ]
    return {job.spec.name: outcome for job, outcome in asyncio.run(run_batch(jobs))}


def on_one_chain(nodes: dict[str, str], blocks: dict[str, int]) -> None:
    """Each node mines its number of blocks of one chain: the same blocks, as far as each goes."""
    for name, count in blocks.items():
        mine(nodes[name], count, T)


class TestLag:
    def test_nodes_behind_the_best_head_by_more_than_max_lag_blocks_are_degraded(
        self, nodes
    ) -> None:
        on_one_chain(nodes, {"a": 12, "b": 9, "c": 4})
        outcomes = probe_pool(nodes, a={}, b={}, c={})
        a, b, c = outcomes["a"], outcomes["b"], outcomes["c"]
        assert [a.result, b.result, c.result] == [Result.SUCCESS, Result.SUCCESS, Result.DEGRADED]
        assert [o.observations["lag_blocks"] for o in (a, b, c)] == [0, 3, 8]
        assert [o.observations["lag_seconds"] for o in (a, b, c)] == [0, 36, 96]
        for outcome in outcomes.values():
            assert outcome.observations["pool"] == "main"
            assert outcome.observations["pool_head"] == 12
            assert outcome.observations["pool_head_node"] == "a"
        assert c.warnings == (
            "behind: block 4 is 8 blocks behind the pool's best ('a') 12, over max_lag_blocks 5",
        )

    def test_max_lag_blocks_and_max_lag_as_declared(self, nodes) -> None:
        on_one_chain(nodes, {"a": 5, "b": 3, "c": 4})
        outcomes = probe_pool(nodes, a={}, b={"max_lag_blocks": 1}, c={"max_lag": 10.0})
        assert outcomes["b"].warnings == (
            "behind: block 3 is 2 blocks behind the pool's best ('a') 5, over max_lag_blocks 1",
        )
        assert outcomes["c"].warnings == (
            "behind: block 4 is 1 blocks (12s) behind the pool's best ('a') 5, over max_lag 10s",
        )
        assert outcomes["a"].result is Result.SUCCESS

    def test_a_reference_is_compared_with_instead_of_the_best(self, nodes) -> None:
        on_one_chain(nodes, {"a": 20, "b": 6, "c": 6})
        outcomes = probe_pool(
            nodes, a={"reference": "c"}, b={"reference": "c"}, c={"reference": "c"}
        )
        # b is where the reference is: not behind, though a is 14 blocks ahead of both.
        assert [outcomes[n].result for n in "abc"] == [Result.SUCCESS] * 3
        assert [outcomes[n].observations["lag_blocks"] for n in "abc"] == [0, 0, 0]
        assert outcomes["b"].observations["pool_head_node"] == "c"

    def test_finality_lag_is_observed_and_judged(self, nodes) -> None:
        # ganache finalizes each block as it mines it: its finalized block is its head.
        on_one_chain(nodes, {"a": 10, "b": 10, "c": 7})
        outcomes = probe_pool(nodes, a={}, b={}, c={"max_lag_blocks": 10, "max_finality_lag": 2})
        assert [outcomes[n].observations["finalized_lag_blocks"] for n in "abc"] == [0, 0, 3]
        assert outcomes["c"].warnings == (
            "finality behind: finalized block 7 is 3 blocks behind the pool's best ('a') "
            "finalized 10, over max_finality_lag 2",
        )

    def test_a_node_that_does_not_answer_takes_no_part(self, nodes) -> None:
        on_one_chain(nodes, {"a": 9, "b": 2})
        silent = {**nodes, "silent": f"http://127.0.0.1:{unused_port()}"}
        outcomes = probe_pool(silent, a={}, b={}, silent={})
        assert outcomes["silent"].error_class is ErrorClass.CONNECT
        assert outcomes["b"].observations["lag_blocks"] == 7
        assert outcomes["b"].result is Result.DEGRADED


class TestChains:
    def test_a_node_on_another_chain_than_the_pools_is_down(self, nodes) -> None:
        outcomes = probe_pool(nodes, a={}, b={}, other={})
        other = outcomes["other"]
        assert other.result is Result.FAILURE
        assert other.error_class is ErrorClass.UNEXPECTED_RESPONSE
        assert other.detail == "chain id 5: the pool's other nodes serve chain 1337 (2 of 3 nodes)"
        assert "lag_blocks" not in other.observations
        assert outcomes["a"].result is outcomes["b"].result is Result.SUCCESS

    def test_a_forked_node_is_down_naming_the_block_and_the_majority(self, nodes) -> None:
        # One chain to block 3; then a mines its own blocks, b and c theirs (and further).
        on_one_chain(nodes, {"a": 3, "b": 3, "c": 3})
        mine(nodes["a"], 4, T + 1000)
        mine(nodes["b"], 6, T + 2000)
        mine(nodes["c"], 5, T + 2000)
        outcomes = probe_pool(nodes, a={}, b={}, c={})
        a = outcomes["a"]
        assert a.result is Result.FAILURE
        assert a.error_class is ErrorClass.UNEXPECTED_RESPONSE
        # Compared at the lowest head of the pool, a's own: block 7.
        assert a.detail.startswith("fork: block 7 hash 0x")
        assert "differs from 2 of 3 nodes (0x" in a.detail
        assert outcomes["b"].result is Result.SUCCESS
        assert outcomes["c"].result is Result.SUCCESS

    def test_two_nodes_that_disagree_with_no_majority_are_degraded_both(self, nodes) -> None:
        mine(nodes["a"], 2, T)
        mine(nodes["b"], 2, T + 500)
        outcomes = probe_pool(nodes, a={}, b={})
        for outcome in outcomes.values():
            assert outcome.result is Result.DEGRADED
            [warning] = outcome.warnings
            assert warning.startswith("fork: the pool's nodes disagree on block 2 and no majority")

    def test_with_a_reference_the_reference_says_which_chain_is_right(self, nodes) -> None:
        mine(nodes["a"], 2, T)
        mine(nodes["b"], 2, T + 500)
        outcomes = probe_pool(nodes, a={"reference": "b"}, b={"reference": "b"})
        assert outcomes["b"].result is Result.SUCCESS
        assert outcomes["a"].detail.startswith("fork: block 2 hash 0x")
        assert "differs from the reference 'b' (0x" in outcomes["a"].detail

    def test_nodes_of_one_chain_at_different_heights_are_no_fork(self, nodes) -> None:
        on_one_chain(nodes, {"a": 30, "b": 1, "c": 29})
        outcomes = probe_pool(nodes, a={}, b={"max_lag_blocks": 100}, c={})
        assert head(nodes["b"]) == 1
        assert [outcomes[n].result for n in "abc"] == [Result.SUCCESS] * 3

    def test_over_websockets_too(self, nodes) -> None:
        on_one_chain(nodes, {"a": 8, "b": 1})
        ws = {name: url.replace("http://", "ws://") for name, url in nodes.items()}
        outcomes = probe_pool(ws, a={}, b={})
        assert outcomes["b"].observations["lag_blocks"] == 7
        assert outcomes["b"].result is Result.DEGRADED


def declare(*entries: str, defaults: str = "") -> list:
    text = (f"defaults: {defaults}\n" if defaults else "") + "dependencies:\n"
    return parse_declaration(text + "".join(f"  - {entry}\n" for entry in entries), "deps.yaml")


class TestDeclaration:
    def test_a_pool_and_its_fields_are_read(self) -> None:
        a, b = declare(
            "{name: a, kind: rpc, url: 'http://a', pool: main, chain_id: 1, reference: b}",
            "{name: b, kind: rpc, url: 'http://b', pool: main, max_lag_blocks: 2, max_lag: 30s,"
            " max_finality_lag: 64}",
        )
        assert (a.pool, a.target.reference, b.target.max_lag, b.target.max_finality_lag) == (
            "main",
            "b",
            30.0,
            64,
        )
        assert b.declaration()["pool"] == "main"
        assert b.declaration()["max_lag"] == "30s"

    def test_the_readmes_example_is_a_pool_with_a_reference(self) -> None:
        readme = (ROOT / "README.md").read_text()
        example = re.search(r"\*\*Pools\.\*\*.*?```yaml\n(.*?)```", readme, re.DOTALL)[1]
        specs = parse_declaration(example, "README.md")
        assert {spec.pool for spec in specs} == {"mainnet"}
        assert {spec.target.reference for spec in specs} == {"", "own-node"}

    def test_a_default_pool_reaches_only_rpc_entries(self) -> None:
        node, api = declare(
            "{name: node, kind: rpc, url: 'http://a'}",
            "{name: api, kind: http, url: 'http://b'}",
            defaults="{pool: main}",
        )
        assert (node.pool, api.pool) == ("main", "")
        # Shown as a group of its own, unless declared in another.
        assert node.group == "main"
        assert "pool" not in api.declaration()

    @pytest.mark.parametrize(
        ("entries", "problem"),
        [
            (
                ["{name: api, kind: http, url: 'http://a', pool: main}"],
                "entry 1 'api', field 'pool': only for the kind rpc",
            ),
            (["{name: a, kind: rpc, url: 'http://a', pool: Main}"], "is not a pool's name"),
            (
                ["{name: a, kind: rpc, url: 'http://a', reference: b}"],
                "field 'reference': only for a node in a pool: declare its `pool`",
            ),
            (
                [
                    "{name: a, kind: rpc, url: 'http://a', pool: main, reference: c}",
                    "{name: c, kind: rpc, url: 'http://c', pool: other}",
                ],
                "field 'reference': 'c' is not a node of the pool 'main'",
            ),
            (
                [
                    "{name: a, kind: rpc, url: 'http://a', pool: main, chain_id: 1}",
                    "{name: b, kind: rpc, url: 'http://b', pool: main}",
                    "{name: c, kind: rpc, url: 'http://c', pool: main, chain_id: 137}",
                ],
                "entry 3 'c', field 'chain_id': the pool 'main' has the chain 1 ('a' declares it)"
                ": a pool has one chain",
            ),
            (
                [
                    "{name: a, kind: rpc, url: 'http://a', pool: main, reference: a}",
                    "{name: b, kind: rpc, url: 'http://b', pool: main, reference: b}",
                ],
                "the pool 'main' has the reference a ('a' declares it): a pool has one reference",
            ),
            (
                ["{name: a, kind: rpc, url: 'http://a', pool: main, max_lag_blocks: -1}"],
                "field 'max_lag_blocks': must be at least 0",
            ),
        ],
    )
    def test_a_pool_declared_wrong_is_refused_saying_where(self, entries, problem) -> None:
        with pytest.raises(DeclarationError) as refused:
            declare(*entries)
        assert any(problem in str(p) for p in refused.value.problems), refused.value


def _hash(height: int, branch: int) -> str:
    """Block `height`'s hash on `branch`: branches share blocks up to FORKED_AT."""
    return f"0x{height:060x}{branch if height > FORKED_AT else 0:04x}"


FORKED_AT = 50


@given(
    heads=st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 2)),
        min_size=1,
        max_size=6,
    )
)
def test_the_judgement_of_any_pool(heads: list[tuple[int, int]]) -> None:
    """Nodes at any heads, on up to three branches of one chain: the best head lags by 0,
    each node by its distance from it, more than 5 is degraded; a node on a branch other
    than the majority's, once the pool's lowest head is past the fork, fails."""
    jobs = [
        make_job("rpc", {"url": "http://n"}, name=f"n{i}", number=i, pool="p")
        for i in range(len(heads))
    ]
    outcomes = [
        Outcome(
            observations={
                "chain_id": 1,
                "block_number": number,
                "block_hash": _hash(number, branch),
                "block_timestamp": number * 12,
            }
        )
        for number, branch in heads
    ]

    async def ask(job, height: int) -> Outcome:
        return Outcome(observations={"block_hash": _hash(height, heads[job.dependency_id][1])})

    judged = asyncio.run(rpc_pool.judge(jobs, outcomes, ask))
    top = max(number for number, _ in heads)
    lowest = min(number for number, _ in heads)
    branches = [branch if lowest > FORKED_AT else 0 for _, branch in heads]
    majority = next((b for b in branches if branches.count(b) * 2 > len(branches)), None)
    for (number, _), branch, outcome in zip(heads, branches, judged, strict=True):
        assert outcome.observations["lag_blocks"] == top - number
        assert outcome.observations["lag_seconds"] == (top - number) * 12
        if majority is not None and branch != majority:
            assert outcome.result is Result.FAILURE
            assert outcome.detail.startswith(f"fork: block {lowest} hash ")
        elif top - number > 5 or (majority is None and len(set(branches)) > 1):
            assert outcome.result is Result.DEGRADED
        else:
            assert outcome.result is Result.SUCCESS, outcome.warnings
