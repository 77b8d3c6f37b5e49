"""The declaration watcher: syncs the file when its content changes; refuses a broken one."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from probes import declaration_state
from probes.declaration_watcher import DeclarationWatcher
from probes.models import Dependency
from tests.factories import T0
from tests.probes.declaration_files import GOOD, errors, snapshot, write

pytestmark = pytest.mark.django_db


# --- watching the file -------------------------------------------------------------------


def test_the_watcher_syncs_on_its_first_call(declaration: Path) -> None:
    write(declaration, GOOD)

    report = DeclarationWatcher(declaration).sync_if_changed()

    assert report.created == ("payments-api", "search")
    assert list(Dependency.objects.values_list("name", flat=True)) == ["payments-api", "search"]


def test_the_watcher_follows_the_settings(declaration: Path) -> None:
    write(declaration, GOOD)

    assert DeclarationWatcher.from_settings().sync_if_changed().created == (
        "payments-api",
        "search",
    )


@pytest.mark.parametrize("touched", [False, True], ids=["untouched", "saved-unchanged"])
def test_the_watcher_does_nothing_while_the_content_is_unchanged(
    declaration: Path, touched: bool
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    if touched:
        write(declaration, GOOD)

    with CaptureQueriesContext(connection) as queries:
        assert watcher.sync_if_changed() is None

    assert queries.captured_queries == []


def test_the_watcher_syncs_a_changed_file_without_a_restart(declaration: Path) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()

    write(declaration, GOOD.replace("interval: 30s", "interval: 10s"))
    report = watcher.sync_if_changed()

    assert report.updated == ("payments-api", "search")
    assert set(Dependency.objects.values_list("interval", flat=True)) == {timedelta(seconds=10)}


def test_the_watcher_refuses_a_broken_file_keeps_the_rows_and_logs_it_once(
    declaration: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    before = snapshot()
    broken = GOOD.replace("kind: http", "kind: htp", 1)

    with caplog.at_level(logging.ERROR, logger="probes.declaration_watcher"):
        write(declaration, broken)
        results = [watcher.sync_if_changed() for _ in range(3)]
        write(declaration, broken)  # saved again, still broken
        results.append(watcher.sync_if_changed())

    assert results == [None] * 4
    assert snapshot() == before
    assert len(errors(caplog)) == 1
    assert "entry 1 'payments-api', field 'kind': unknown kind 'htp'" in caplog.text
    assert "Still probing the dependencies declared before." in caplog.text
    assert "unknown kind 'htp'" in watcher.last_problem


def test_the_watcher_syncs_a_file_fixed_after_a_refusal_and_says_so(
    declaration: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    write(declaration, GOOD.replace("kind: http", "kind: htp", 1))
    watcher.sync_if_changed()

    write(declaration, GOOD.replace("critical: true", "critical: false"))
    with caplog.at_level(logging.INFO, logger="probes.declaration_watcher"):
        report = watcher.sync_if_changed()

    assert report.updated == ("payments-api",)
    assert watcher.last_problem is None
    assert f"{declaration} accepted: the problems reported before are fixed" in caplog.text


# --- the state it records for the page and /metrics -------------------------------------


def test_an_accepted_file_is_recorded_with_when(declaration: Path) -> None:
    write(declaration, GOOD)
    with freeze_time(T0):
        DeclarationWatcher(declaration).sync_if_changed()

    state = declaration_state.current()
    assert (state.valid, state.problems, state.synced_at, state.refused_at) == (True, [], T0, None)


def test_a_refusal_is_recorded_with_each_problem_and_the_declaration_still_probed(
    declaration: Path,
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    with freeze_time(T0):
        watcher.sync_if_changed()
    broken = GOOD.replace("kind: http", "kind: htp", 1).replace("interval: 30s", "interval: 0s")
    write(declaration, broken)
    with freeze_time(T0 + timedelta(minutes=5)):
        watcher.sync_if_changed()
    with freeze_time(T0 + timedelta(minutes=6)), CaptureQueriesContext(connection) as queries:
        watcher.sync_if_changed()  # unchanged: neither read nor written again

    state = declaration_state.current()
    assert state.valid is False
    assert state.problems == [
        f"{declaration}:2: defaults, field 'interval': must be longer than zero and at most "
        "365 days",
        f"{declaration}:5: entry 1 'payments-api', field 'kind': unknown kind 'htp' "
        "(known kinds: http, rpc, smtp, s3, heartbeat, webhook)",
    ]
    assert state.synced_at == T0  # the declaration still probed
    assert state.refused_at == T0 + timedelta(minutes=5)
    assert queries.captured_queries == []


def test_a_refusal_of_another_kind_keeps_when_the_file_was_first_refused(
    declaration: Path,
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    write(declaration, GOOD.replace("kind: http", "kind: htp", 1))
    with freeze_time(T0):
        watcher.sync_if_changed()
    declaration.unlink()
    with freeze_time(T0 + timedelta(minutes=1)):
        watcher.sync_if_changed()

    state = declaration_state.current()
    assert state.problems == [f"{declaration}: cannot read it (No such file or directory)"]
    assert state.refused_at == T0

    write(declaration, GOOD)
    watcher.sync_if_changed()
    assert declaration_state.current().valid is True


def test_the_watcher_refuses_a_file_that_is_not_utf8(declaration: Path) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    before = snapshot()

    write(declaration, GOOD.replace("group: payments", "group: caf\u00e9").encode("latin-1"))

    assert watcher.sync_if_changed() is None
    assert "cannot read it" in watcher.last_problem
    assert snapshot() == before


def test_a_missing_file_changes_nothing_until_it_returns(
    declaration: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    before = snapshot()

    declaration.unlink()
    with caplog.at_level(logging.ERROR, logger="probes.declaration_watcher"):
        assert [watcher.sync_if_changed() for _ in range(3)] == [None] * 3

    assert snapshot() == before
    assert len(errors(caplog)) == 1
    assert f"{declaration}: cannot read it" in watcher.last_problem

    # Back as it was (an editor's save by rename): accepted again, with nothing to change.
    write(declaration, GOOD)
    watcher.sync_if_changed()
    assert watcher.last_problem is None
    assert snapshot() == before
