"""A pool through the whole prober: declared, claimed as one, probed by runprobes' probing
process, recorded, and shown in /health/dependencies and /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command

from probes.models import Dependency, ProbeResult
from tests.dashboard.test_metrics import scrape, value
from tests.ganache import GENESIS_TIMESTAMP, mine, running


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[str, str]]:
    with running() as ahead, running() as behind:
        mine(ahead, 9, GENESIS_TIMESTAMP + 60)
        mine(behind, 2, GENESIS_TIMESTAMP + 60)
        yield ahead, behind


@pytest.mark.django_db(transaction=True)
def test_a_pool_is_probed_at_once_and_its_laggard_recorded_degraded(
    declaration: Path, two_nodes, client, admin_user
) -> None:
    ahead, behind = two_nodes
    declaration.write_text(
        "defaults: {kind: rpc, pool: mainnet, interval: 60s, timeout: 5s}\n"
        "dependencies:\n"
        f"  - {{name: node-a, url: '{ahead}'}}\n"
        f"  - {{name: node-b, url: '{behind}'}}\n"
    )
    call_command("runprobes", once=True)
    rows = {row.name: row for row in Dependency.objects.all()}
    assert (rows["node-a"].status, rows["node-b"].status) == ("up", "degraded")
    assert rows["node-b"].last_observations["lag_blocks"] == 7
    assert rows["node-b"].last_warnings == [
        "behind: block 2 is 7 blocks behind the pool's best ('node-a') 9, over max_lag_blocks 5"
    ]
    # One claim: both checked together, each once, and due again together.
    checked = sorted(ProbeResult.objects.values_list("checked_at", flat=True))
    assert len(checked) == 2
    assert (checked[1] - checked[0]).total_seconds() < 5
    assert rows["node-a"].next_due_at == rows["node-b"].next_due_at

    client.force_login(admin_user)
    samples = scrape(client)
    assert value(samples, "seahealth_rpc_lag_blocks", dependency="node-b") == 7
    assert value(samples, "seahealth_rpc_lag_blocks", dependency="node-a") == 0
    assert value(samples, "seahealth_rpc_finalized_lag_blocks", dependency="node-b") == 7
