"""dependencies.yaml's limits: every value bounded where it is declared, so that no file can
stop the prober, and nothing a refused file holds reaches the database."""

from __future__ import annotations

import datetime
import logging
import math
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, OperationalError, transaction

from probes import declaration_watcher
from probes.breaker import Policy
from probes.declaration_watcher import DeclarationWatcher
from probes.declarations import (
    LARGEST_FILE,
    Declaration,
    DeclarationError,
    load_declaration,
    parse_declaration,
)
from probes.dependency_spec import DependencySpec
from probes.kinds import http
from probes.models import Dependency, ProbeResult
from probes.scheduler import claim_due
from probes.storable import unstorable
from probes.sync import sync
from tests.conftest import ROOT, wait_for
from tests.databases import subprocess_env
from tests.probes.declaration_files import GOOD, snapshot, write

pytestmark = pytest.mark.django_db

SOURCE = "dependencies.yaml"
HEAD = "dependencies:\n  - name: api\n    kind: http\n    url: https://api.example.com/health\n"
CONTROL = "holds the control character"

# (fields added to the entry at line 5, where the problem is, what the message says)
LIMITS = [
    (
        "breaker: {success_threshold: 2147483648}",
        "breaker, field 'success_threshold'",
        "must be at most 1000",
    ),
    (
        "breaker: {failure_threshold: 1" + "0" * 30 + "}",
        "breaker, field 'failure_threshold'",
        "must be at most 1000",
    ),
    ("ca_file: " + "c" * 501, "field 'ca_file'", "is longer than 500 characters"),
    ('group: "pay\\0ments"', "field 'group'", CONTROL),
    ('group: "pay\\x1bments"', "field 'group'", CONTROL),
    ('body: "a\\0b"', "field 'body'", CONTROL),
    ('expect_body: "a\\0b"', "field 'expect_body'", CONTROL),
    ('method: "GET\\0"', "field 'method'", CONTROL),
    ('headers: {"X-A\\0": v}', "field 'headers'", CONTROL),
    ('headers: {X-A: "v\\0"}', "field 'headers'", CONTROL),
    ('headers: {X-A: "v\\nInjected: 1"}', "field 'headers'", CONTROL),
    ("headers: {X-A: " + "9" * 100 + "}", "field 'headers'", "too large"),
    ('expect_json: {"a\\0b": 1}', "field 'expect_json'", "expected a mapping of dotted paths"),
    ('expect_json: {a: "x\\0"}', "field 'expect_json'", f"the value of a {CONTROL}"),
    ("expect_json: {a: .inf}", "field 'expect_json'", "is not a finite number"),
    ("expect_json: {a: 2026-01-01}", "field 'expect_json'", "expected values are strings"),
    ("expect_json: {a: 1" + "0" * 30 + "}", "field 'expect_json'", "is a number too large"),
    ("timeout: 0.0001ms", "field 'timeout'", "must be at least 1ms"),
    ("timeout: " + "9" * 400 + "s", "field 'timeout'", "is not a duration"),
    ("max_body_size: 100GiB", "field 'max_body_size'", "must be at most 64MiB"),
    (
        "expect_status: [" + ", ".join(["200"] * 51) + "]",
        "field 'expect_status'",
        "lists more than 50",
    ),
    (
        "headers: {" + ", ".join(f"H{i}: v" for i in range(51)) + "}",
        "field 'headers'",
        "names more than 50",
    ),
    ("body: " + "b" * (64 * 1024 + 1), "field 'body'", "is longer than 65536 characters"),
    ("max_latency: [" + ", ".join(["x"] * 1000) + "]", "field 'max_latency'", "is not a duration"),
]


def with_fields(fields: str) -> str:
    return HEAD.replace("kind: http\n", "kind: http\n", 1) + f"    {fields}\n"


@pytest.mark.parametrize(("fields", "where", "message"), LIMITS)
def test_refuses_a_value_past_its_bound_naming_file_line_entry_and_field(
    declaration: Path, fields: str, where: str, message: str
) -> None:
    declaration.write_text(with_fields(fields))

    with pytest.raises(DeclarationError) as refused:
        load_declaration(declaration)

    (problem,) = refused.value.problems
    assert f"{declaration}:5: entry 1 'api', {where}: " in str(problem)
    assert message in problem.message
    # A short excerpt of the value at most, whatever its size.
    assert len(str(problem)) < len(str(declaration)) + 250
    assert "\x00" not in str(problem)


@pytest.mark.parametrize(("fields", "where", "message"), LIMITS[:6])
def test_check_dependencies_refuses_what_sync_refuses(
    declaration: Path, fields: str, where: str, message: str, capsys
) -> None:
    declaration.write_text(with_fields(fields))

    with pytest.raises(SystemExit) as exited:
        call_command("check_dependencies", str(declaration))

    assert exited.value.code == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "name: mailer\n    kind: smtp\n    host: mail.example.com\n    port: 70000",
            "must be at most 65535",
        ),
        ("name: mailer\n    kind: smtp\n    host: " + "m" * 300, "is longer than 255 characters"),
        (
            "name: node\n    kind: rpc\n    url: http://node.example.com\n"
            "    chain_id: 18446744073709551616",
            "must be at most 9007199254740991",
        ),
        ('name: docs\n    kind: s3\n    bucket: docs\n    profile: "a\\0"', CONTROL),
    ],
)
def test_every_kind_bounds_its_own_fields(entry: str, message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        parse_declaration(f"dependencies:\n  - {entry}\n", SOURCE)


def test_refuses_a_name_too_long_or_with_a_control_character_showing_an_excerpt() -> None:
    with pytest.raises(DeclarationError) as refused:
        parse_declaration(f'dependencies:\n  - {{name: "{"n" * 5000}\\0", kind: http}}\n', SOURCE)

    assert all(len(str(problem)) < 300 for problem in refused.value.problems)


def test_refuses_a_file_larger_than_the_limit_unread(declaration: Path) -> None:
    declaration.write_text("dependencies: [" + "1, " * (LARGEST_FILE // 3) + "]\n")

    with pytest.raises(DeclarationError, match="larger than 8 MiB: refused unread"):
        load_declaration(declaration)


def test_refuses_a_billion_laughs_quickly_and_small(declaration: Path) -> None:
    levels = [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)]
    declaration.write_text(
        "\n".join(["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]", *levels])
        + "\ndependencies:\n  - {name: bomb, kind: http, url: *a9}\n"
    )
    tracemalloc.start()
    try:
        with pytest.raises(DeclarationError, match="refused: more than 1,000,000 values"):
            load_declaration(declaration)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 20 * 1024 * 1024


def test_refuses_an_alias_bomb_in_a_field_of_the_wrong_type_with_an_excerpt() -> None:
    # Under the expansion limit, but a string field given a list of 100,000 values.
    text = (
        "x: &x [a, a, a, a, a, a, a, a, a, a]\ny: &y [*x, *x, *x, *x, *x, *x, *x, *x, *x, *x]\n"
        "z: &z [*y, *y, *y, *y, *y, *y, *y, *y, *y, *y]\n"
        "dependencies:\n"
        "  - {name: bomb, kind: http, url: [*z, *z, *z, *z, *z, *z, *z, *z, *z, *z]}\n"
    )

    with pytest.raises(DeclarationError) as refused:
        parse_declaration(text.replace("x: &x", "defaults: {}\nx: &x"), SOURCE)

    assert "expected a string, got [[[...], [...]" in str(refused.value)
    assert len(str(refused.value)) < 500


def test_refuses_nesting_deeper_than_the_limit() -> None:
    with pytest.raises(DeclarationError, match="refused: nested deeper than 20 levels"):
        parse_declaration("dependencies:\n  - group: " + "[" * 50 + "]" * 50 + "\n", SOURCE)


# --- the last guard: what the columns cannot hold never reaches them ---------------------


def spec(**policy: int) -> DependencySpec:
    return DependencySpec(
        name="api",
        kind="http",
        critical=False,
        group="",
        interval=30.0,
        timeout=5.0,
        policy=Policy(**policy),
        target=http.Spec(url="https://api.example.com/health"),
    )


def test_names_every_value_the_columns_cannot_hold() -> None:
    values = spec(failure_threshold=2**64).row_values()
    values["group"] = "g\x00"
    values["spec"] = {"url": "x\x00"}

    assert dict(unstorable(values)) == {
        "failure_threshold": "outside 0..2147483647",
        "group": "holds a NUL character",
        "spec": "holds a NUL character",
    }


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": math.inf}, "holds a number that is not finite"),
        ({"a": [1, 2**70]}, "holds an integer outside 64 bits"),
        ({"a\x00": 1}, "holds a NUL character"),
        ({"a": datetime.date(2026, 1, 1)}, "holds a date, which JSON has not"),
    ],
)
def test_names_json_the_spec_column_cannot_hold(value: object, problem: str) -> None:
    values = spec().row_values()
    values["spec"] = value

    assert unstorable(values) == [("spec", problem)]


def test_without_the_guard_the_database_itself_refuses_the_value() -> None:
    # Why the guard is there: PostgreSQL's integer overflows (DataError), SQLite's binding
    # overflows (OverflowError), and either used to stop every probe, every tick.
    with pytest.raises((DatabaseError, OverflowError)), transaction.atomic():
        sync([spec(failure_threshold=2**64)])


def test_the_watcher_refuses_what_the_database_refuses_and_probing_goes_on(
    declaration: Path, monkeypatch, caplog
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()
    before = snapshot()
    # Past the file's own checks: as if a kind forgot to bound a field.
    monkeypatch.setattr(
        declaration_watcher,
        "parse_document",
        lambda *a: Declaration([spec(failure_threshold=2**64)]),
    )

    write(declaration, GOOD + "# changed\n")
    with caplog.at_level(logging.ERROR, logger="probes.declaration_watcher"):
        assert watcher.sync_if_changed() is None
        assert watcher.sync_if_changed() is None  # not retried until the file changes

    assert "declaration refused, the database could not store it" in watcher.last_problem
    assert "cannot reach the database" not in caplog.text
    assert snapshot() == before
    assert {job.spec.name for job in claim_due(limit=10)} == {"payments-api", "search"}


@pytest.mark.parametrize("crash", [RecursionError, MemoryError, ValueError])
def test_a_crash_while_reading_is_a_refusal_not_a_stopped_prober(
    declaration: Path, monkeypatch, crash: type[Exception]
) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    watcher.sync_if_changed()

    def crashing(*args: object) -> list[DependencySpec]:
        raise crash("boom")

    monkeypatch.setattr(declaration_watcher, "parse_document", crashing)
    write(declaration, GOOD + "# changed\n")

    assert watcher.sync_if_changed() is None
    assert f"declaration refused: {crash.__name__}: boom" in watcher.last_problem


def test_an_unavailable_database_is_retried_not_refused(declaration: Path, monkeypatch) -> None:
    write(declaration, GOOD)
    watcher = DeclarationWatcher(declaration)
    calls = []

    def unavailable(declaration: Declaration) -> None:
        calls.append(declaration)
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(declaration_watcher, "sync_declaration", unavailable)
    assert watcher.sync_if_changed() is None
    assert "not synced yet, the database is unavailable" in watcher.last_problem
    monkeypatch.undo()

    report = watcher.sync_if_changed()  # the same file, tried again

    assert len(calls) == 1
    assert report.created == ("payments-api", "search")
    assert watcher.last_problem is None


# --- a running prober, given a hostile file -------------------------------------------

HOSTILE_FILES = {
    "out-of-range": "breaker: {success_threshold: 2147483648}",
    "nul-in-group": 'group: "a\\0b"',
    "huge-threshold": "breaker: {failure_threshold: 1" + "0" * 40 + "}",
    "deep": "group: " + "[" * 5000 + "]" * 5000,
}


@pytest.mark.django_db(transaction=True)
def test_runprobes_goes_on_probing_through_hostile_declarations(
    tmp_path: Path, http_server
) -> None:
    path = tmp_path / "dependencies.yaml"
    entry = f"name: api, kind: http, url: '{http_server.url()}', interval: 1s, timeout: 1s"
    good = f"dependencies:\n  - {{{entry}}}\n"
    path.write_text(good)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runprobes"],
        cwd=ROOT,
        env=subprocess_env(SEAHEALTH_DEPENDENCIES=str(path), SEAHEALTH_TICK_SECONDS="0.2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: ProbeResult.objects.count() >= 1, 30)
        for fields in HOSTILE_FILES.values():
            entry = good.replace("interval: 1s", f"interval: 1s, {fields}")
            path.write_text(
                entry if not fields.startswith("group: [") else good + f"  - {fields}\n"
            )
            probed = ProbeResult.objects.count()
            wait_for(lambda probed=probed: ProbeResult.objects.count() >= probed + 2, 30)
            assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)

    assert process.returncode == 0, output
    assert output.count("declaration refused") >= len(HOSTILE_FILES), output
    assert "cannot reach the database" not in output
    assert "Traceback" not in output
    assert list(Dependency.objects.values_list("name", "group", "success_threshold")) == [
        ("api", "", 1)
    ]
