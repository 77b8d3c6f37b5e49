"""dependencies.yaml read: every field, the defaults, and a bad file refused whole."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from probes.breaker import Policy
from probes.declaration_watcher import DeclarationWatcher
from probes.declarations import DeclarationError, load_declaration, parse_declaration
from probes.dependency_spec import DependencySpec
from probes.fields import Fields
from probes.kinds import KINDS, http
from tests.probes.declaration_files import (
    GOOD,
    SOURCE,
    add_history,
    entry,
    refusal,
    snapshot,
    specs_of,
    write,
)

pytestmark = pytest.mark.django_db


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
