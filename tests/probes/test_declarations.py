"""dependencies.yaml: reading it, refusing a bad file whole, syncing the rows, watching the file."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from probes.breaker import Policy
from probes.declaration_watcher import DeclarationWatcher
from probes.declarations import DeclarationError, load_declaration, parse_declaration
from probes.dependency_spec import DependencySpec
from probes.fields import Fields
from probes.kinds import KINDS, http
from probes.models import BreakerTransition, Dependency, ProbeResult
from probes.recording import STATE_FIELDS
from probes.sync import sync

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SOURCE = "dependencies.yaml"

GOOD = """\
defaults:
  interval: 30s
dependencies:
  - name: payments-api
    kind: http
    critical: true
    group: payments
    url: https://api.example.com/health
    headers: {Authorization: "Bearer ${PAYMENTS_TOKEN}"}
    expect_status: [200]
  - name: search
    kind: http
    url: https://search.example.com/health
"""

# The columns the recorder owns (but the schedule, which sync may move): sync never writes them.
CURRENT_STATE = [field for field in STATE_FIELDS if field != "next_due_at"]


def entry(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "kind": "http", "url": f"https://{name}.example.com/health", **fields}


def declared(*entries: dict[str, Any], defaults: dict[str, Any] | None = None) -> str:
    document: dict[str, Any] = {"dependencies": list(entries)}
    if defaults is not None:
        document["defaults"] = defaults
    return yaml.safe_dump(document, sort_keys=False)


def specs_of(*entries: dict[str, Any], defaults: dict[str, Any] | None = None):
    return parse_declaration(declared(*entries, defaults=defaults), SOURCE)


def refusal(text: str) -> DeclarationError:
    with pytest.raises(DeclarationError) as refused:
        parse_declaration(text, SOURCE)
    return refused.value


def write(path: Path, text: str | bytes) -> None:
    """A new version of the file, as an editor saves it."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    # A coarse file-system clock can stamp two quick writes alike; an editor's saves are not.
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def add_history(name: str = "payments-api") -> None:
    """A probe result, a breaker transition and a current state, as the recorder leaves them."""
    dependency = Dependency.objects.get(name=name)
    ProbeResult.objects.create(
        dependency=dependency,
        checked_at=T0,
        result="failure",
        latency_ms=12.5,
        error_class="connect",
        detail="connection refused",
    )
    BreakerTransition.objects.create(
        dependency=dependency,
        at=T0,
        from_state="closed",
        to_state="open",
        reason="3 consecutive failures, last: connect: connection refused",
    )
    Dependency.objects.filter(pk=dependency.pk).update(
        status="down",
        status_since=T0,
        breaker_state="open",
        breaker_failures=3,
        breaker_opened_at=T0,
        last_checked_at=T0,
        last_result="failure",
        last_error_class="connect",
        last_error="connection refused",
        last_observations={"status_code": 503},
    )


def snapshot() -> list[list[dict[str, Any]]]:
    """Every row of every table the declaration reaches, in full."""
    return [
        list(model.objects.order_by("pk").values())
        for model in (Dependency, ProbeResult, BreakerTransition)
    ]


def row(name: str) -> dict[str, Any]:
    return Dependency.objects.values().get(name=name)


def current_state(name: str) -> dict[str, Any]:
    return Dependency.objects.values(*CURRENT_STATE).get(name=name)


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


# --- reading a good file ---------------------------------------------------------------


def test_reads_every_field_of_an_entry() -> None:
    payments, search = parse_declaration(GOOD, SOURCE)

    assert payments == DependencySpec(
        name="payments-api",
        kind="http",
        critical=True,
        group="payments",
        interval=30.0,
        timeout=5.0,
        policy=Policy(failure_threshold=3, recovery_timeout=60.0, success_threshold=1),
        target=http.Spec(
            url="https://api.example.com/health",
            method="GET",
            headers={"Authorization": "Bearer ${PAYMENTS_TOKEN}"},
            expect_status=[200],
        ),
    )
    assert (search.name, search.critical, search.group) == ("search", False, "")
    assert search.target == http.Spec(url="https://search.example.com/health")


def test_reads_an_empty_list_as_no_dependencies() -> None:
    assert parse_declaration("dependencies: []\n", SOURCE) == []


def test_accepts_a_yaml_merge_key_that_overrides_what_it_merges() -> None:
    text = """\
dependencies:
  - &api
    name: api-eu
    kind: http
    url: https://eu.example.com/health
    interval: 10s
  - <<: *api
    name: api-us
    url: https://us.example.com/health
"""
    eu, us = parse_declaration(text, SOURCE)

    assert (us.name, us.target.url, us.interval) == ("api-us", "https://us.example.com/health", 10)
    assert (eu.name, eu.target.url) == ("api-eu", "https://eu.example.com/health")


# --- refusing a bad file, whole --------------------------------------------------------

FIRST_ENTRY = """\
dependencies:
  - name: payments-api
    kind: http
    url: https://api.example.com/health
"""


def with_second_entry(fields: str) -> str:
    """A file whose first entry is fine and whose second (from line 5) holds `fields`."""
    first, *rest = fields.strip().splitlines()
    return FIRST_ENTRY + "".join(
        f"{line}\n" for line in ["  - " + first, *("    " + r for r in rest)]
    )


URL = "url: https://search.example.com/health"

# (the file, the line, where in the file, what the message says)
REFUSALS = [
    pytest.param(
        with_second_entry(f"name: search\nkind: htp\n{URL}"),
        6,
        "entry 2 'search', field 'kind'",
        "unknown kind 'htp'",
        id="unknown-kind",
    ),
    pytest.param(
        with_second_entry("name: search\nkind: http"),
        5,
        "entry 2 'search', field 'url'",
        "required",
        id="missing-url",
    ),
    pytest.param(
        with_second_entry(f"kind: http\n{URL}"),
        5,
        "entry 2, field 'name'",
        "required",
        id="missing-name",
    ),
    pytest.param(
        with_second_entry(f"name: search\n{URL}"),
        5,
        "entry 2 'search', field 'kind'",
        "required",
        id="missing-kind",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ncritical: maybe"),
        8,
        "entry 2 'search', field 'critical'",
        "expected true or false, got 'maybe'",
        id="critical-not-a-boolean",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\nexpect_status: x"),
        8,
        "entry 2 'search', field 'expect_status'",
        "expected an integer or a list of integers, got 'x'",
        id="expect-status-not-an-integer",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\nexpect_status: [200, 700]"),
        8,
        "entry 2 'search', field 'expect_status'",
        "700 is not an HTTP status code",
        id="expect-status-out-of-range",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\nheaders: [Accept]"),
        8,
        "entry 2 'search', field 'headers'",
        "expected a mapping of names to strings",
        id="headers-not-a-mapping",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ninterval: 5"),
        8,
        "entry 2 'search', field 'interval'",
        "5 is not a duration",
        id="interval-a-bare-number",
    ),
    pytest.param(
        with_second_entry(f"name: payments-api\nkind: http\n{URL}"),
        5,
        "entry 2 'payments-api', field 'name'",
        "'payments-api' is already declared by entry 1",
        id="duplicate-name",
    ),
    pytest.param(
        with_second_entry(f"name: Search API\nkind: http\n{URL}"),
        5,
        "entry 2 'Search API', field 'name'",
        "is not a name",
        id="name-not-a-slug",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ninterval: 5 seconds"),
        8,
        "entry 2 'search', field 'interval'",
        "'5 seconds' is not a duration",
        id="duration-in-words",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ntimeout: -1s"),
        8,
        "entry 2 'search', field 'timeout'",
        "'-1s' is not a duration",
        id="negative-duration",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ninterval: 0s"),
        8,
        "entry 2 'search', field 'interval'",
        "must be longer than zero",
        id="zero-duration",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ninterval: 500ms"),
        8,
        "entry 2 'search', field 'interval'",
        "must be at least 1s",
        id="interval-below-a-second",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\nintervall: 10s"),
        8,
        "entry 2 'search', field 'intervall'",
        "unknown field (did you mean 'interval'?)",
        id="unknown-field",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\nbreaker: {{failure_treshold: 2}}"),
        8,
        "entry 2 'search', breaker, field 'failure_treshold'",
        "unknown field (did you mean 'failure_threshold'?)",
        id="unknown-breaker-field",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\nbreaker: {{success_threshold: 0}}"),
        8,
        "entry 2 'search', breaker, field 'success_threshold'",
        "must be at least 1, got 0",
        id="breaker-threshold-zero",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ninterval: 5s\ntimeout: 10s"),
        9,
        "entry 2 'search', field 'timeout'",
        "must not be longer than the interval",
        id="timeout-longer-than-interval",
    ),
    pytest.param(
        with_second_entry(
            f"name: search\nkind: http\n{URL}\nheaders: {{Authorization: Bearer 4f3c}}"
        ),
        8,
        "entry 2 'search', field 'headers'",
        "header 'Authorization' holds a credential written out",
        id="literal-authorization-header",
    ),
    pytest.param(
        with_second_entry("name: search\nkind: http\nurl: https://bot:hunter2@search.example.com/"),
        7,
        "entry 2 'search', field 'url'",
        "the credentials in the URL must not be written out",
        id="literal-password-in-url",
    ),
    pytest.param(
        with_second_entry("name: search\nkind: http\nurl: https://x.example.com/?api_key=4f3c"),
        7,
        "entry 2 'search', field 'url'",
        "the query parameter 'api_key' must not be written out",
        id="literal-secret-query-parameter",
    ),
    pytest.param(
        with_second_entry("name: search\nkind: http\nurl: ftp://search.example.com/"),
        7,
        "entry 2 'search', field 'url'",
        "is not an http:// or https:// URL",
        id="not-an-http-url",
    ),
    pytest.param(
        with_second_entry(f"name: search\nkind: http\n{URL}\ngroup: {'g' * 101}"),
        8,
        "entry 2 'search', field 'group'",
        "longer than 100 characters",
        id="group-too-long-for-its-column",
    ),
    pytest.param(
        FIRST_ENTRY + "  - name: search\n    url: [https://search.example.com\n",
        7,
        "column 1",
        "not valid YAML: expected ',' or ']'",
        id="yaml-syntax-error",
    ),
    pytest.param(
        FIRST_ENTRY + "    url: https://other.example.com/health\n",
        5,
        "column 5",
        "found the key 'url' twice (first on line 4)",
        id="duplicate-yaml-key",
    ),
    pytest.param("", None, "the file", "it is empty", id="empty-file"),
    pytest.param("# nothing yet\n", None, "the file", "it is empty", id="only-a-comment"),
    pytest.param(
        "- name: search\n  kind: http\n",
        None,
        "the file",
        "expected a mapping with a `dependencies:` list",
        id="top-level-a-list",
    ),
    pytest.param(
        "dependencies: {name: search}\n",
        1,
        "top level, field 'dependencies'",
        "expected a list of dependencies",
        id="dependencies-not-a-list",
    ),
    pytest.param(
        "defaults: {interval: 10s}\n",
        1,
        "top level, field 'dependencies'",
        "required",
        id="dependencies-missing",
    ),
    pytest.param(
        "dependencies: []\ndefault: {interval: 10s}\n",
        2,
        "top level, field 'default'",
        "unknown field (did you mean 'defaults'?)",
        id="unknown-top-level-key",
    ),
]


@pytest.mark.parametrize(("text", "line", "where", "message"), REFUSALS)
def test_refuses_a_bad_file_whole_and_writes_nothing(
    declaration: Path, text: str, line: int | None, where: str, message: str
) -> None:
    watcher = DeclarationWatcher(declaration)
    write(declaration, GOOD)
    assert watcher.sync_if_changed().created == ("payments-api", "search")
    add_history()
    before = snapshot()

    write(declaration, text)
    with pytest.raises(DeclarationError) as loaded:
        load_declaration(declaration)
    assert watcher.sync_if_changed() is None
    with pytest.raises(CommandError) as command:
        call_command("sync_dependencies", str(declaration))

    location = f"{declaration}:{line}" if line else str(declaration)
    for refused in (str(loaded.value), watcher.last_problem, str(command.value)):
        assert f"{location}: {where}: " in refused
        assert message in refused
        assert "nothing was changed" in refused
    assert snapshot() == before


def test_lists_every_problem_of_the_file_not_only_the_first() -> None:
    text = with_second_entry(f"name: search\nkind: http\n{URL}\ncritical: maybe\ninterval: 5")

    refused = refusal(text.replace("    url: https://api.example.com/health\n", ""))

    assert [(problem.where, problem.field) for problem in refused.problems] == [
        ("entry 1 'payments-api'", "url"),
        ("entry 2 'search'", "critical"),
        ("entry 2 'search'", "interval"),
    ]
    assert str(refused).startswith("declaration refused (3 problems); nothing was changed:")


@pytest.mark.parametrize(
    ("fields", "kind_problem"),
    [
        pytest.param(f"name: search\nkind: htp\n{URL}", "unknown kind 'htp'", id="unknown"),
        pytest.param(f"name: search\n{URL}", "required", id="missing"),
    ],
)
def test_blames_the_kind_alone_when_it_is_unknown_or_missing(
    fields: str, kind_problem: str
) -> None:
    refused = refusal(with_second_entry(f"{fields}\nmethod: HEAD\nintervall: 5s"))

    # The kind's own fields (url, method) are not unknown: the kind is. A field no kind has is.
    kind, unknown = refused.problems
    assert (kind.field, unknown.field) == ("kind", "intervall")
    assert kind.message.startswith(kind_problem)
    assert unknown.message == "unknown field (did you mean 'interval'?)"


def test_refuses_a_file_that_is_not_utf8(declaration: Path) -> None:
    declaration.write_bytes("dependencies: []\n# caf\u00e9\n".encode("latin-1"))

    with pytest.raises(DeclarationError, match="cannot read it"):
        load_declaration(declaration)


def test_refuses_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"

    with pytest.raises(DeclarationError) as refused:
        load_declaration(missing)

    assert f"{missing}: the file: cannot read it" in str(refused.value)


# --- defaults ----------------------------------------------------------------------------


def test_defaults_apply_to_entries_that_do_not_set_the_field() -> None:
    inherits, overrides = specs_of(
        entry("inherits"),
        entry("overrides", interval="1m", timeout="10s", critical=False, group="search"),
        defaults={"interval": "10s", "timeout": "2s", "critical": True, "group": "core"},
    )

    assert (inherits.interval, inherits.timeout, inherits.critical, inherits.group) == (
        10.0,
        2.0,
        True,
        "core",
    )
    assert (overrides.interval, overrides.timeout, overrides.critical, overrides.group) == (
        60.0,
        10.0,
        False,
        "search",
    )


def test_breaker_defaults_merge_with_an_entry_key_by_key() -> None:
    (spec,) = specs_of(
        entry("api", breaker={"success_threshold": 2, "recovery_timeout": "30s"}),
        defaults={"breaker": {"failure_threshold": 5, "recovery_timeout": "2m"}},
    )

    assert spec.policy == Policy(failure_threshold=5, recovery_timeout=30.0, success_threshold=2)


@dataclasses.dataclass(frozen=True)
class PingSpec:
    host: str


def _parse_ping(fields: Fields) -> PingSpec:
    return PingSpec(host=fields.string("host"))


@pytest.fixture
def ping_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second kind, without http's fields, registered as a kind module would be."""
    monkeypatch.setitem(KINDS, "ping", SimpleNamespace(Spec=PingSpec, parse=_parse_ping))


@pytest.mark.usefixtures("ping_kind")
def test_kind_fields_in_defaults_reach_only_the_kinds_that_have_them() -> None:
    api, ping = specs_of(
        entry("api"),
        {"name": "gateway", "kind": "ping", "host": "gw.example.com"},
        defaults={"method": "HEAD", "headers": {"Accept": "application/json"}, "timeout": "2s"},
    )

    assert (api.target.method, api.target.headers) == ("HEAD", {"Accept": "application/json"})
    assert (ping.target, ping.timeout) == (PingSpec(host="gw.example.com"), 2.0)


def test_defaults_may_name_the_kind() -> None:
    (spec,) = specs_of(
        {"name": "api", "url": "https://api.example.com/"}, defaults={"kind": "http"}
    )

    assert spec.kind == "http"


@pytest.mark.parametrize(
    ("defaults", "line", "where", "field", "message"),
    [
        ("interval: 5 seconds", 2, "defaults", "interval", "is not a duration"),
        ("timeout: -1s", 2, "defaults", "timeout", "is not a duration"),
        ("critical: maybe", 2, "defaults", "critical", "expected true or false"),
        ("interval: 5s\n  timeout: 10s", 3, "defaults", "timeout", "longer than the interval"),
        ("breaker: {failure_threshold: 0}", 2, "defaults, breaker", "failure_threshold", "least"),
        ("kind: htp", 2, "defaults", "kind", "'htp' is not one of: "),
        ("intervall: 5s", 2, "defaults", "intervall", "unknown field (did you mean 'interval'?)"),
        ("name: api", 2, "defaults", "name", "unknown field"),
    ],
)
def test_a_bad_default_is_reported_once_as_defaults(
    defaults: str, line: int, where: str, field: str, message: str
) -> None:
    text = f"defaults:\n  {defaults}\n" + with_second_entry(f"name: search\nkind: http\n{URL}")

    (problem,) = refusal(text).problems

    assert (problem.line, problem.where, problem.field) == (line, where, field)
    assert message in problem.message
    assert "did you mean 'name'" not in problem.message


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


def test_the_watcher_syncs_a_file_fixed_after_a_refusal(declaration: Path) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    write(declaration, GOOD.replace("kind: http", "kind: htp", 1))
    watcher.sync_if_changed()

    write(declaration, GOOD.replace("critical: true", "critical: false"))
    report = watcher.sync_if_changed()

    assert report.updated == ("payments-api",)
    assert watcher.last_problem is None


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
