"""A prober that fell behind, as the rows it leaves show it, read through gunicorn (two
workers): /metrics, /health/ready and the status page say so, each from its own reading,
and all of them follow the prober as it catches up."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from probes.models import Dependency, StateVersion
from tests.e2e.site import Site
from tests.factories import make_dependency

pytestmark = pytest.mark.django_db(transaction=True)

# New connections, so that both workers answer some; far above what following needs.
REQUESTS = 8
FOLLOW_TIMEOUT = 10.0


def answers(site: Site) -> set[tuple[str, ...]]:
    """What every answer says of the backlog, over new connections."""
    seen = set()
    for _ in range(REQUESTS):
        metrics = httpx.get(f"{site.url}/metrics", timeout=10, trust_env=False)
        samples = {
            sample.name: sample.value
            for family in text_string_to_metric_families(metrics.text)
            for sample in family.samples
            if sample.name in {"seahealth_probe_backlog", "seahealth_probe_schedule_lag_seconds"}
        }
        lagging = samples["seahealth_probe_schedule_lag_seconds"] >= 600
        seen.add(("metrics", str(samples["seahealth_probe_backlog"]), str(lagging)))
        ready = httpx.get(f"{site.url}/health/ready", timeout=10, trust_env=False)
        output = ready.json().get("output", "")
        seen.add(("ready", str(ready.status_code), output.split(", the oldest")[0]))
        page = httpx.get(f"{site.url}/", timeout=10, trust_env=False).text
        seen.add(("page", str("The prober is behind:</strong> 2 dependencies overdue" in page)))
    return seen


def test_gunicorn_says_the_prober_is_behind_until_it_catches_up(site: Site) -> None:
    now = timezone.now()
    ahead = now + timedelta(hours=1)
    # Recorded just now: the prober runs. But two dependencies have waited past their time.
    make_dependency("payments", status="up", last_checked_at=now, next_due_at=ahead)
    make_dependency("mailer", kind="smtp", next_due_at=now - timedelta(minutes=10))
    make_dependency("ledger", kind="rpc", next_due_at=now - timedelta(minutes=4))
    site.start(
        WEB_CONCURRENCY="2",
        SEAHEALTH_PUBLIC_DASHBOARD="true",
        SEAHEALTH_READY_MAX_AGE="1d",
        SEAHEALTH_READY_MAX_LAG="5m",
    )
    assert answers(site) == {
        ("metrics", "2.0", "True"),
        ("ready", "503", "the prober is behind: 2 dependencies overdue"),
        ("page", "True"),
    }

    # Caught up: what its claims and recordings leave.
    Dependency.objects.update(next_due_at=ahead)
    StateVersion.bump()
    caught_up = {("metrics", "0.0", "False"), ("ready", "200", ""), ("page", "False")}
    deadline = time.monotonic() + FOLLOW_TIMEOUT
    while (seen := answers(site)) != caught_up:
        assert time.monotonic() < deadline, f"not followed within {FOLLOW_TIMEOUT:g}s: {seen}"
        time.sleep(0.1)
