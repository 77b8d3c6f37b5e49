"""Two gunicorns (two hosts, as far as they know), two workers each, on one database: they
answer /health/* and /metrics alike, and both follow a recording made by another process."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from probes.models import Dependency
from probes.outcomes import ErrorClass, Outcome
from probes.recording import record
from probes.scheduler import job_for
from tests.e2e.site import Site
from tests.factories import make_dependency
from tests.processes import StartProcess

pytestmark = pytest.mark.django_db(transaction=True)

HEALTH_JSON = {"Accept": "application/health+json"}
# Far above the 0.1 s a web process may keep its copy of the state: margin for a loaded machine.
FOLLOW_TIMEOUT = 10.0
# Enough new connections that each of a site's two workers answers some (the kernel spreads
# accepted connections between them).
REQUESTS = 12


def answers(site: Site) -> set[tuple[str, int, str]]:
    """Every answer of the site, over new connections: (path, status, body)."""
    seen = set()
    # No connection kept alive: each request opens its own. One client for them all (a client
    # per request, as httpx.get makes, spends 20 ms on its TLS context).
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=10, trust_env=False, limits=no_keepalive) as http:
        for path, headers in [
            ("/health/dependencies", {}),
            ("/health/dependencies", HEALTH_JSON),
            ("/health/dependencies/payments", {}),
            ("/health/ready", {}),
            ("/metrics", {}),
        ]:
            for _ in range(REQUESTS):
                answer = http.get(f"{site.url}{path}", headers=headers)
                body = answer.text
                if answer.headers["Content-Type"] == "application/json":
                    body = answer.json()
                    body.pop("checked_at", None)  # when the answer was made: differs by design
                    body = repr(body)
                seen.add((f"{path} {headers}", answer.status_code, body))
    return seen


def test_web_processes_answer_alike_and_follow_a_recording_made_elsewhere(
    start_process: StartProcess, tmp_path: Path
) -> None:
    # Due ahead, as a prober that keeps up leaves them: a backlog's lag grows by the second,
    # and would differ between any two answers.
    ahead = timezone.now() + timedelta(hours=1)
    payments = make_dependency("payments", critical=True, failure_threshold=1, next_due_at=ahead)
    make_dependency("mailer", kind="smtp", next_due_at=ahead)
    record([(job_for(payments), Outcome(latency_ms=12.0, checked_at=timezone.now()))])
    sites = [Site(start_process, tmp_path, name=f"gunicorn-{n}") for n in (1, 2)]
    for site in sites:
        site.start(WEB_CONCURRENCY="2", SEAHEALTH_READY_MAX_AGE="1d")
    before = answers(sites[0])
    assert len(before) == 5, "one answer per request, whichever worker gave it"
    assert answers(sites[1]) == before
    assert ("/health/dependencies/payments {}", 200) in {seen[:2] for seen in before}

    payments = Dependency.objects.get(name="payments")
    refused = Outcome(
        error_class=ErrorClass.CONNECT, detail="connection refused", checked_at=timezone.now()
    )
    record([(job_for(payments), refused)])
    deadline = time.monotonic() + FOLLOW_TIMEOUT
    while True:
        after = [answers(site) for site in sites]
        followed = all(
            ("/health/dependencies/payments {}", 503) in {a[:2] for a in site_answers}
            for site_answers in after
        )
        if followed and len(after[0]) == 5:
            break
        assert time.monotonic() < deadline, f"not followed within {FOLLOW_TIMEOUT:g}s: {after}"
        time.sleep(0.1)
    assert after[1] == after[0]
    assert {(path, status) for path, status, _ in after[0]} == {
        ("/health/dependencies {}", 503),
        (f"/health/dependencies {HEALTH_JSON}", 503),
        ("/health/dependencies/payments {}", 503),
        ("/health/ready {}", 200),
        ("/metrics {}", 200),
    }
