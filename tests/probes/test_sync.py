"""sync: the rows made to match a declaration, the current state and history left alone."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from probes.declarations import parse_declaration
from probes.models import Dependency
from probes.sync import sync
from tests.probes.declaration_files import (
    GOOD,
    SOURCE,
    T0,
    add_history,
    current_state,
    entry,
    row,
    snapshot,
    specs_of,
    writes,
)

pytestmark = pytest.mark.django_db


# --- writing the rows --------------------------------------------------------------------


def test_creates_a_row_per_entry_due_at_once() -> None:
    report = sync(parse_declaration(GOOD, SOURCE), now=T0)

    assert report.created == ("payments-api", "search")
    row = Dependency.objects.get(name="payments-api")
    assert (row.kind, row.critical, row.group) == ("http", True, "payments")
    assert row.spec == {
        "url": "https://api.example.com/health",
        "method": "GET",
        "headers": {"Authorization": "Bearer ${PAYMENTS_TOKEN}"},
        "body": None,
        "expect_status": [200],
        "expect_body": None,
        "expect_json": None,
        "basic_auth": None,
        "bearer_token": None,
        "follow_redirects": False,
        "max_body_size": 1024 * 1024,
    }
    assert (row.interval, row.timeout) == (timedelta(seconds=30), timedelta(seconds=5))
    assert (row.failure_threshold, row.recovery_timeout, row.success_threshold) == (
        3,
        timedelta(seconds=60),
        1,
    )
    assert (row.next_due_at, row.archived_at, row.status) == (T0, None, "unknown")


def test_keeps_placeholders_in_the_stored_spec_even_when_the_variables_are_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYMENTS_TOKEN", "tok-5e1f0a9c")
    monkeypatch.setenv("API_KEY", "key-77b2d1e4")
    monkeypatch.setenv("ETH_RPC_URL", "https://rpc.example.com/v3/9aa3d95b3bc440fa")
    text = GOOD.replace("/health\n", "/health?api_key=${API_KEY}\n", 1) + (
        "  - name: rpc\n    kind: http\n    url: ${ETH_RPC_URL}\n"
    )

    sync(parse_declaration(text, SOURCE), now=T0)

    payments = Dependency.objects.get(name="payments-api")
    assert payments.spec["headers"] == {"Authorization": "Bearer ${PAYMENTS_TOKEN}"}
    assert payments.spec["url"] == "https://api.example.com/health?api_key=${API_KEY}"
    assert Dependency.objects.get(name="rpc").spec["url"] == "${ETH_RPC_URL}"
    stored = json.dumps(snapshot(), default=str)
    for secret in ("tok-5e1f0a9c", "key-77b2d1e4", "9aa3d95b3bc440fa"):
        assert secret not in stored


def test_archives_a_removed_entry_and_restores_it_with_its_history() -> None:
    sync(specs_of(entry("api"), entry("search")), now=T0)
    add_history("search")
    search = Dependency.objects.get(name="search")
    history = snapshot()[1:]

    removed = sync(specs_of(entry("api")), now=T0 + timedelta(minutes=1))

    assert removed.archived == ("search",)
    search.refresh_from_db()
    assert search.archived_at == T0 + timedelta(minutes=1)
    assert list(Dependency.objects.active().values_list("name", flat=True)) == ["api"]
    assert snapshot()[1:] == history

    back = sync(specs_of(entry("api"), entry("search")), now=T0 + timedelta(minutes=2))

    assert (back.restored, back.created, back.unchanged) == (("search",), (), 1)
    restored = Dependency.objects.get(name="search")
    assert restored.pk == search.pk
    assert (restored.archived_at, restored.next_due_at) == (None, T0 + timedelta(minutes=2))
    assert list(Dependency.objects.active().values_list("name", flat=True)) == ["api", "search"]
    assert snapshot()[1:] == history


def test_an_archived_dependency_stays_archived_from_when_it_left() -> None:
    sync(specs_of(entry("api"), entry("search")), now=T0)
    sync(specs_of(entry("api")), now=T0 + timedelta(minutes=1))

    again = sync(specs_of(entry("api")), now=T0 + timedelta(minutes=2))

    assert (again.archived, again.changed) == ((), False)
    assert Dependency.objects.get(name="search").archived_at == T0 + timedelta(minutes=1)


def test_restores_an_entry_that_returns_changed_with_its_new_spec() -> None:
    sync(specs_of(entry("api"), entry("search")), now=T0)
    sync(specs_of(entry("api")), now=T0 + timedelta(minutes=1))

    moved = "https://search-v2.example.com/health"
    report = sync(specs_of(entry("api"), entry("search", url=moved)), now=T0)

    assert report.restored == ("search",)
    assert Dependency.objects.get(name="search").spec["url"] == moved


def test_a_second_sync_of_the_same_specs_writes_nothing() -> None:
    specs = parse_declaration(GOOD, SOURCE)
    sync(specs, now=T0)
    add_history()
    before = snapshot()

    with CaptureQueriesContext(connection) as queries:
        report = sync(parse_declaration(GOOD, SOURCE), now=T0 + timedelta(minutes=1))

    assert queries.captured_queries, "the sync ran no query at all"
    assert writes(queries) == []
    assert (report.changed, report.unchanged) == (False, 2)
    assert str(report) == "unchanged 2"
    assert snapshot() == before


@pytest.mark.parametrize(
    ("change", "path", "value"),
    [
        ({"interval": "10s"}, ["interval"], timedelta(seconds=10)),
        ({"timeout": "1s"}, ["timeout"], timedelta(seconds=1)),
        ({"critical": False}, ["critical"], False),
        ({"group": "billing"}, ["group"], "billing"),
        ({"breaker": {"failure_threshold": 5}}, ["failure_threshold"], 5),
        ({"breaker": {"recovery_timeout": "2m"}}, ["recovery_timeout"], timedelta(minutes=2)),
        (
            {"url": "https://v2.example.com/health"},
            ["spec", "url"],
            "https://v2.example.com/health",
        ),
        ({"method": "HEAD"}, ["spec", "method"], "HEAD"),
        ({"expect_status": [200, 204]}, ["spec", "expect_status"], [200, 204]),
    ],
)
def test_updates_a_changed_field_and_leaves_the_current_state_alone(
    change: dict[str, Any], path: list[str], value: Any
) -> None:
    sync(specs_of(entry("api", critical=True), entry("search")), now=T0)
    add_history("api")
    state, search = current_state("api"), row("search")

    report = sync(
        specs_of(entry("api", **{"critical": True, **change}), entry("search")),
        now=T0 + timedelta(seconds=1),
    )

    assert (report.updated, report.unchanged) == (("api",), 1)
    stored = row("api")
    for key in path:
        stored = stored[key]
    assert stored == value
    assert current_state("api") == state
    assert row("search") == search


@pytest.mark.parametrize(
    ("interval", "due"),
    [
        pytest.param("10s", T0 + timedelta(seconds=11), id="shorter-pulls-it-earlier"),
        pytest.param("25s", T0 + timedelta(seconds=25), id="shorter-but-not-sooner"),
        pytest.param("1m", T0 + timedelta(seconds=25), id="longer-keeps-it"),
    ],
)
def test_a_changed_interval_reschedules_only_what_it_brings_forward(
    interval: str, due: datetime
) -> None:
    sync(specs_of(entry("api", interval="30s")), now=T0 - timedelta(seconds=5))
    # Probed at T0 - 5s: due again 30s later.
    Dependency.objects.filter(name="api").update(next_due_at=T0 + timedelta(seconds=25))

    sync(specs_of(entry("api", interval=interval)), now=T0 + timedelta(seconds=1))

    assert Dependency.objects.get(name="api").next_due_at == due


def test_another_change_leaves_the_schedule_alone() -> None:
    sync(specs_of(entry("api")), now=T0)
    Dependency.objects.filter(name="api").update(next_due_at=T0 + timedelta(seconds=25))

    sync(specs_of(entry("api", critical=True)), now=T0 + timedelta(seconds=1))

    assert Dependency.objects.get(name="api").next_due_at == T0 + timedelta(seconds=25)


def test_reports_what_it_did() -> None:
    sync(specs_of(entry("a"), entry("b"), entry("c")), now=T0)

    report = sync(
        specs_of(entry("a", critical=True), entry("c"), entry("d")), now=T0 + timedelta(minutes=1)
    )

    assert (report.created, report.updated, report.archived, report.unchanged) == (
        ("d",),
        ("a",),
        ("b",),
        1,
    )
    assert str(report) == "created 1 (d); updated 1 (a); archived 1 (b); unchanged 1"
