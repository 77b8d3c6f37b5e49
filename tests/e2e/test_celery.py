"""End to end, distributed: Celery beat and a Celery worker (real processes, Redis broker,
PostgreSQL) probe a real HTTP server, and /health/dependencies follows it down and back up."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import groupby, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from probes.models import BreakerTransition, Dependency, ProbeResult

if TYPE_CHECKING:
    from tests.e2e.conftest import Celery
    from tests.servers import LocalHTTPServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

NAME = "e2e-http"
# Each phase waits for at most this long; the protocol needs a few seconds per phase.
PHASE_TIMEOUT = 30.0
LEGAL_TRANSITIONS = {
    ("closed", "open"),
    ("open", "half_open"),
    ("half_open", "open"),
    ("half_open", "closed"),
}

Answer = tuple[int, dict[str, Any]]


def wait_for_health(
    client: Client, celery: Celery, expected: Callable[[int, dict[str, Any]], bool], what: str
) -> Answer:
    """Poll /health/dependencies until `expected(status_code, body)`; fail at the deadline."""
    deadline = time.monotonic() + PHASE_TIMEOUT
    while True:
        response = client.get("/health/dependencies")
        answer = response.status_code, response.json()
        if expected(*answer):
            return answer
        celery.check_running()
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {PHASE_TIMEOUT:g}s; last answer: {answer}")
        time.sleep(0.1)


def healthy(code: int, body: dict[str, Any]) -> bool:
    # "up", not merely "healthy": a dependency not probed yet (unknown) is healthy too.
    dependency = body["dependencies"].get(NAME, {})
    return code == 200 and body["status"] == "healthy" and dependency.get("status") == "up"


def unhealthy(code: int, body: dict[str, Any]) -> bool:
    dependency = body["dependencies"].get(NAME, {})
    return (
        code == 503
        and body["status"] == "unhealthy"
        and dependency.get("status") == "down"
        and dependency.get("breaker") in {"open", "half_open"}
    )


def test_health_follows_a_server_down_and_back_up(
    celery: Celery, declaration: Path, http_server: LocalHTTPServer
) -> None:
    declaration.write_text(
        f"""
dependencies:
  - name: {NAME}
    kind: http
    critical: true
    url: {http_server.url()}
    interval: 1s
    timeout: 1s
    breaker: {{failure_threshold: 2, recovery_timeout: 2s, success_threshold: 1}}
"""
    )
    celery.worker()
    celery.beat()
    client = Client()

    _, body = wait_for_health(client, celery, healthy, "healthy with the server up")
    assert body["dependencies"][NAME]["breaker"] == "closed"

    http_server.stop()
    _, body = wait_for_health(client, celery, unhealthy, "unhealthy with the server stopped")
    assert body["dependencies"][NAME]["error"].startswith("connect: ")

    http_server.start()
    _, body = wait_for_health(client, celery, healthy, "healthy again with the server back")
    assert body["dependencies"][NAME]["breaker"] == "closed"

    transitions = list(
        BreakerTransition.objects.filter(dependency__name=NAME)
        .order_by("at", "id")
        .values_list("from_state", "to_state")
    )
    assert transitions[0] == ("closed", "open")
    assert transitions[-1] == ("half_open", "closed")
    assert set(transitions) <= LEGAL_TRANSITIONS
    for (_, previous_to), (from_state, _) in pairwise(transitions):
        assert from_state == previous_to, transitions

    results = ProbeResult.objects.filter(dependency__name=NAME).order_by("checked_at", "id")
    history = [result for result, _ in groupby(results.values_list("result", flat=True))]
    assert history == ["success", "failure", "success"]
    failure_classes = set(results.filter(result="failure").values_list("error_class", flat=True))
    assert failure_classes == {"connect"}


def test_beat_syncs_the_declaration_when_it_starts_and_keeps_logging(
    celery: Celery, declaration: Path
) -> None:
    declaration.write_text(
        f"dependencies:\n  - name: {NAME}\n    kind: http\n    url: http://127.0.0.1:9/\n"
    )
    beat = celery.beat()  # no worker: only beat can have synced it

    deadline = time.monotonic() + PHASE_TIMEOUT
    while "Sending due task dispatch-due" not in beat.output():
        celery.check_running()
        if time.monotonic() > deadline:
            pytest.fail(f"beat logged no dispatch within {PHASE_TIMEOUT:g}s")
        time.sleep(0.1)

    assert Dependency.objects.active().filter(name=NAME).exists()
    assert f"{declaration} synced: created 1 ({NAME})" in beat.output()


def test_dispatch_probes_on_through_hostile_declarations(
    celery: Celery, declaration: Path, http_server: LocalHTTPServer
) -> None:
    entry = f"name: {NAME}, kind: http, url: '{http_server.url()}', interval: 1s, timeout: 1s"
    declaration.write_text(f"dependencies:\n  - {{{entry}}}\n")
    worker = celery.worker()
    celery.beat()
    hostile = [
        "breaker: {success_threshold: 2147483648}",  # a DataError on PostgreSQL, once
        'group: "a\\0b"',  # PostgreSQL refuses NUL in text
        "ca_file: " + "c" * 501,  # past the column
    ]

    for fields in [None, *hostile]:
        if fields is not None:
            declaration.write_text(f"dependencies:\n  - {{{entry}, {fields}}}\n")
        probed = ProbeResult.objects.count()
        deadline = time.monotonic() + PHASE_TIMEOUT
        while ProbeResult.objects.count() < probed + 2:
            celery.check_running()
            if time.monotonic() > deadline:
                pytest.fail(f"no probes within {PHASE_TIMEOUT:g}s after {fields!r}")
            time.sleep(0.1)

    assert worker.output().count("declaration refused") >= len(hostile)
    assert "DataError" not in worker.output()
    assert Dependency.objects.get(name=NAME).group == ""
