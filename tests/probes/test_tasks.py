"""The Celery tasks called as plain functions: what dispatch_due claims, sends and says.

Sending is the broker's side, which tests/e2e/test_celery.py runs for real: here it is
recorded instead, so that no task reaches a broker.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from inbound.models import Signal
from probes import tasks
from probes.backlog import BacklogWarnings
from probes.models import Dependency
from tests.factories import T0

pytestmark = pytest.mark.django_db

DECLARATION = """\
dependencies:
  - {name: alpha, kind: http, url: "http://127.0.0.1:9/"}
  - {name: bravo, kind: http, url: "http://127.0.0.1:9/"}
  - {name: charlie, kind: http, url: "http://127.0.0.1:9/"}
"""


@pytest.fixture
def sent(monkeypatch, settings, declaration: Path) -> list[list[int]]:
    """dispatch_due in a fresh worker process, with the batches it sends recorded."""
    declaration.write_text(DECLARATION)
    settings.SEAHEALTH_TICK_SECONDS = 1.0
    monkeypatch.setattr(tasks, "_watcher", None)
    monkeypatch.setattr(tasks, "_backlog_warnings", BacklogWarnings())
    batches: list[list[int]] = []

    def send(args: list, expires: timedelta) -> None:
        batches.append(args[0])

    monkeypatch.setattr(tasks.probe_batch, "apply_async", send)
    monkeypatch.setattr(tasks, "_waiting_messages", lambda: 0)
    return batches


def test_dispatch_due_warns_of_what_its_claim_limit_left_due(sent, settings, caplog) -> None:
    settings.SEAHEALTH_CLAIM_LIMIT = 1
    with freeze_time(T0) as clock, caplog.at_level(logging.WARNING, logger="probes.backlog"):
        assert tasks.dispatch_due() == 1  # declared now: the two left are not late yet
        assert caplog.records == []
        clock.tick(10)
        assert tasks.dispatch_due() == 1
        clock.tick(1)
        assert tasks.dispatch_due() == 1
    assert [len(batch) for batch in sent] == [1, 1, 1]
    warning, cleared = [record.getMessage() for record in caplog.records]
    assert warning.startswith(
        "the prober is behind: 1 dependency overdue, the oldest by 10 s; more is due than it probes"
    )
    assert cleared.startswith("the prober has caught up: nothing overdue")


def test_dispatch_due_says_nothing_while_it_keeps_up(sent, caplog) -> None:
    with freeze_time(T0) as clock, caplog.at_level(logging.WARNING, logger="probes.backlog"):
        for _ in range(5):
            tasks.dispatch_due()
            clock.tick(5)  # less than an interval in all: none is due twice
    assert [len(batch) for batch in sent] == [3]
    assert caplog.records == []


def test_dispatch_due_sends_a_pool_in_one_batch(sent, settings, declaration: Path) -> None:
    declaration.write_text(
        DECLARATION
        + "".join(
            f'  - {{name: node-{n}, kind: rpc, pool: main, url: "http://127.0.0.1:9/"}}\n'
            for n in range(3)
        )
    )
    settings.SEAHEALTH_BATCH_SIZE = 2
    with freeze_time(T0):
        assert tasks.dispatch_due() == 6
    pool = set(Dependency.objects.filter(pool="main").values_list("id", flat=True))
    assert [pool <= set(batch) for batch in sent].count(True) == 1
    assert sorted(pk for batch in sent for pk in batch) == sorted(
        Dependency.objects.values_list("id", flat=True)
    )


def test_dispatch_due_applies_what_reported_in_and_judges_it(sent, declaration: Path) -> None:
    declaration.write_text(DECLARATION + "  - {name: nightly, kind: heartbeat, expect_every: 1h}\n")
    with freeze_time(T0):
        tasks.dispatch_due()
        nightly = Dependency.objects.get(name="nightly")
        Signal.objects.create(dependency=nightly, received_at=T0, what=Signal.What.FAIL)
    with freeze_time(T0 + timedelta(seconds=1)):
        tasks.dispatch_due()
    nightly.refresh_from_db()
    assert (nightly.status, nightly.last_error_class) == ("down", "unexpected_response")
    # Never sent to a worker to be probed: it reports in.
    assert nightly.id not in {pk for batch in sent for pk in batch}
