"""The embedded prober (`manage.py runprobes`): claim -> probe -> record in one process.

The prober reaches the database from its own thread, so these tests commit (transaction=True)
rather than hold the test's transaction open, which on SQLite would lock the prober out.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from notifications.models import Message
from probes import rollups
from probes.declaration_watcher import DeclarationWatcher
from probes.embedded import EmbeddedProber, Every
from probes.models import Dependency, Period, ProbeResult, Rollup
from tests.conftest import wait_for
from tests.databases import subprocess_env
from tests.factories import make_dependency
from tests.servers import Route

ROOT = Path(__file__).resolve().parents[2]


def http_entry(name: str, url: str, timeout: str = "1s", interval: str = "1s") -> str:
    fields = f"name: {name}, kind: http, url: '{url}', interval: {interval}, timeout: {timeout}"
    return f"  - {{{fields}}}\n"


def write(path: Path, *entries: str) -> None:
    path.write_text("dependencies:\n" + "".join(entries))


@pytest.mark.django_db(transaction=True)
def test_once_syncs_probes_what_is_due_records_and_exits(declaration, http_server) -> None:
    # A minute apart: the second run comes well within it, however slow the machine.
    write(
        declaration,
        http_entry("api", http_server.url(), interval="60s"),
        http_entry("down", "http://127.0.0.1:9/", interval="60s"),
    )
    call_command("runprobes", once=True)
    statuses = dict(Dependency.objects.values_list("name", "status"))
    assert statuses == {"api": "up", "down": "degraded"}
    assert ProbeResult.objects.count() == 2
    call_command("runprobes", once=True)  # nothing is due again yet
    assert ProbeResult.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_once_with_a_peer_that_never_answers_returns_after_its_timeout(
    declaration, hanging_server
) -> None:
    write(declaration, http_entry("stuck", hanging_server.url(), timeout="1s"))
    started = time.monotonic()
    call_command("runprobes", once=True)
    assert time.monotonic() - started < 1 + 2
    assert (
        Dependency.objects.get().last_error == "timeout: no answer within 1s (wait for the answer)"
    )


@pytest.mark.django_db(transaction=True)
def test_once_with_a_broken_file_probes_what_the_database_holds_and_fails(
    declaration, http_server
) -> None:
    write(declaration, http_entry("api", http_server.url()))
    call_command("sync_dependencies")
    declaration.write_text("dependencies:\n  - name: api\n    kind: ftp\n")
    with pytest.raises(CommandError, match="was refused"):
        call_command("runprobes", once=True)
    assert list(Dependency.objects.values_list("name", "kind", "status")) == [("api", "http", "up")]


def _run_prober_in_background(path: Path) -> tuple[threading.Thread, Callable[[], None]]:
    prober = EmbeddedProber(DeclarationWatcher(path), tick=0.1, claim_limit=100, max_in_flight=100)
    return _run_in_background(prober)


def _run_in_background(prober: EmbeddedProber) -> tuple[threading.Thread, Callable[[], None]]:
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def run() -> None:
        try:
            loop.run_until_complete(prober.run(stop))
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, lambda: loop.call_soon_threadsafe(stop.set)


@pytest.mark.django_db(transaction=True)
def test_a_changed_declaration_is_picked_up_without_a_restart(tmp_path, http_server) -> None:
    path = tmp_path / "dependencies.yaml"
    write(path, http_entry("first", http_server.url()))
    thread, stop = _run_prober_in_background(path)
    try:
        wait_for(lambda: Dependency.objects.filter(name="first", status="up").exists())
        write(path, http_entry("second", http_server.url("/health?second")))
        wait_for(lambda: Dependency.objects.filter(name="second", status="up").exists())
        first = Dependency.objects.get(name="first")
        assert first.archived_at is not None
        assert first.results.exists()  # archived, history kept
    finally:
        stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


def start_runprobes(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "runprobes"],
        cwd=ROOT,
        env=subprocess_env(SEAHEALTH_DEPENDENCIES=str(path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_sigterm_stops_runprobes_cleanly(tmp_path, http_server) -> None:
    path = tmp_path / "dependencies.yaml"
    write(path, http_entry("api", http_server.url()))
    process = start_runprobes(path)
    try:
        wait_for(lambda: Dependency.objects.filter(name="api", status="up").exists(), 30)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    assert process.returncode == 0, output
    assert "runprobes: 1 dependency from" in output


@pytest.mark.django_db(transaction=True)
def test_two_probers_never_probe_a_dependency_twice_in_one_interval(tmp_path, http_server) -> None:
    # On whichever database this pass runs: SQLite (one writer) or PostgreSQL (SKIP LOCKED).
    path = tmp_path / "dependencies.yaml"
    write(path, *(http_entry(f"dep-{n}", http_server.url(f"/health?{n}")) for n in range(5)))
    call_command("sync_dependencies", str(path))
    probers = [start_runprobes(path), start_runprobes(path)]
    try:
        wait_for(lambda: ProbeResult.objects.count() >= 5 * 5, 60)
    finally:
        for prober in probers:
            prober.send_signal(signal.SIGTERM)
        outputs = [prober.communicate(timeout=15)[0] for prober in probers]
    assert [prober.returncode for prober in probers] == [0, 0], outputs
    for n in range(5):
        times = sorted(
            ProbeResult.objects.filter(dependency__name=f"dep-{n}").values_list(
                "checked_at", flat=True
            )
        )
        gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
        # 1s interval: consecutive probes are a claim apart, less the spread in probe times.
        assert min(gaps) > 0.8, (n, gaps)


@pytest.mark.django_db(transaction=True)
def test_runprobes_stores_uptimes_at_start_and_every_minute(tmp_path) -> None:
    # No declaration file: the watcher leaves the rows as they are.
    path = tmp_path / "missing.yaml"
    row = make_dependency(next_due_at=timezone.now() + timedelta(days=1))
    hour = rollups.bucket_start(timezone.now(), Period.HOUR)
    Rollup.objects.create(
        dependency=row, period=Period.HOUR, start=hour, up_seconds=2700, down_seconds=900
    )
    clock = [0.0]
    prober = EmbeddedProber(
        DeclarationWatcher(path),
        tick=0.02,
        claim_limit=100,
        max_in_flight=100,
        uptimes=Every(60, clock=lambda: clock[0]),
    )
    thread, stop = _run_in_background(prober)
    try:
        wait_for(lambda: Dependency.objects.get(pk=row.pk).uptime_24h == 0.75)
        Rollup.objects.filter(dependency=row).update(up_seconds=900)
        time.sleep(0.2)  # ticks go by, the minute does not
        assert Dependency.objects.get(pk=row.pk).uptime_24h == 0.75
        clock[0] = 60.0
        wait_for(lambda: Dependency.objects.get(pk=row.pk).uptime_24h == 0.5)
    finally:
        stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_probing_process_that_dies_is_started_again(tmp_path, http_server, caplog) -> None:
    path = tmp_path / "dependencies.yaml"
    write(path, http_entry("api", http_server.url()))
    prober = EmbeddedProber(DeclarationWatcher(path), tick=0.1, claim_limit=100, max_in_flight=100)
    thread, stop = _run_in_background(prober)
    try:
        wait_for(lambda: ProbeResult.objects.exists(), 30)
        first = prober._probing._process
        os.kill(first.pid, signal.SIGKILL)
        wait_for(lambda: prober._probing._process not in (None, first), 30)
        probed = ProbeResult.objects.count()
        wait_for(lambda: ProbeResult.objects.count() >= probed + 2, 30)
    finally:
        stop()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert "the probing process died (exit code -9): starting another" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_claims_made_ahead_and_not_started_are_given_back_at_a_stop(tmp_path, http_server) -> None:
    path = tmp_path / "dependencies.yaml"
    write(path, http_entry("api", http_server.url(), interval="30s"))
    call_command("sync_dependencies", str(path))
    later = timezone.now() + timedelta(hours=1)
    Dependency.objects.update(next_due_at=later, last_checked_at=timezone.now())
    # Ticks of a second claim two seconds ahead: the claim comes before it is due.
    prober = EmbeddedProber(DeclarationWatcher(path), tick=1.0, claim_limit=100, max_in_flight=100)
    thread, stop = _run_in_background(prober)
    try:
        wait_for(lambda: prober._probing._ready.is_set(), 30)
        due = timezone.now() + timedelta(seconds=1.8)
        Dependency.objects.update(next_due_at=due)
        wait_for(lambda: Dependency.objects.get().next_due_at > due, 30)  # claimed
    finally:
        stop()
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert not ProbeResult.objects.exists()
    assert Dependency.objects.get().next_due_at == due


@pytest.mark.django_db(transaction=True)
def test_once_sends_the_notifications_of_what_it_recorded(declaration, http_server) -> None:
    # Run from cron, there is no next second to send them in.
    http_server.routes["/hook"] = Route(status=204, body=b"")
    declaration.write_text(
        f"""notifications:
  channels: {{hook: {{type: webhook, url: "{http_server.url("/hook")}"}}}}
  routes: [{{channels: [hook]}}]
dependencies:
  - {{name: down, kind: http, url: "http://127.0.0.1:9/", breaker: {{failure_threshold: 1}}}}
"""
    )
    call_command("runprobes", once=True)
    assert [path for _, path, _ in http_server.requests] == ["/hook"]
    assert Message.objects.get().state == "sent"
