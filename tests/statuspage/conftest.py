"""Public and private entries whose every internal detail is a canary string: what the
public page, its feed and the badges must never show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from probes.models import Dependency, Incident, StatusTransition
from tests.factories import make_dependency

HTMX = {"HTTP_HX_REQUEST": "true"}
# Each appears only in what is internal: a name behind a display name, a URL, a host, a
# header, an error, a warning, a private entry's name, group and display name.
CANARIES = {
    "internal name": "pay-internal-canary",
    "private name": "private-canary-db",
    "private group": "private-canary-group",
    "private display name": "Private Canary Display",
    "host": "canary-host.internal",
    "url path": "canary-url-path",
    "header": "canary-header-value",
    "error": "canary error text",
    "warning": "canary warning text",
    "incident error": "canary incident error",
    "private incident error": "canary private incident error",
}


@dataclass
class Entries:
    payments: Dependency  # public, display name "Payments", down with an open incident
    search: Dependency  # public, no display name, up
    private: Dependency  # private, critical, down, in a group of its own
    now: datetime


def entry(name: str, status: str = "up", **fields) -> Dependency:
    now = timezone.now()
    url = f"https://user:pw@{CANARIES['host']}:8443/{CANARIES['url path']}?key=v"
    values = {
        "status": status,
        "status_since": now - timedelta(minutes=3),
        "last_checked_at": now,
        "spec": {"url": url, "method": "GET", "headers": {"X-Canary": CANARIES["header"]}},
        "last_warnings": [CANARIES["warning"]],
        "last_observations": {"status_code": 503, "where": CANARIES["host"]},
    }
    if status == "down":
        values |= {
            "breaker_state": "open",
            "breaker_opened_at": now,
            "last_error": f"{CANARIES['error']} at {CANARIES['host']}",
        }
    return make_dependency(name, **(values | fields))


@pytest.fixture
def entries(db) -> Entries:
    now = timezone.now()
    payments = entry(
        CANARIES["internal name"],
        "down",
        public=True,
        display_name="Payments",
        group="checkout",
        critical=True,
    )
    search = entry("search", public=True, group="checkout")
    private = entry(
        CANARIES["private name"],
        "down",
        group=CANARIES["private group"],
        display_name=CANARIES["private display name"],
        critical=True,
    )
    Incident.objects.create(
        dependency=payments,
        started_at=now - timedelta(minutes=3),
        first_error=CANARIES["incident error"],
        last_error=CANARIES["incident error"],
    )
    Incident.objects.create(
        dependency=payments,
        started_at=now - timedelta(hours=2),
        ended_at=now - timedelta(hours=2) + timedelta(minutes=12),
        first_error=CANARIES["incident error"],
        last_error=CANARIES["incident error"],
    )
    Incident.objects.create(
        dependency=private,
        started_at=now - timedelta(minutes=5),
        first_error=CANARIES["private incident error"],
        last_error=CANARIES["private incident error"],
    )
    # The status changes recording wrote with them (the feed's).
    changed(payments, now - timedelta(hours=3), "unknown", "up")
    changed(payments, now - timedelta(hours=2), "up", "down")
    changed(payments, now - timedelta(hours=2) + timedelta(minutes=12), "down", "up")
    changed(payments, now - timedelta(minutes=3), "up", "down")
    changed(private, now - timedelta(minutes=5), "up", "down")
    return Entries(payments, search, private, now)


def changed(row: Dependency, at: datetime, before: str, after: str) -> StatusTransition:
    return StatusTransition.objects.create(
        dependency=row, at=at, from_status=before, to_status=after
    )


def leaked(text: str) -> list[str]:
    """Which canaries `text` holds, by what they stand for."""
    folded = text.casefold()
    return [what for what, canary in CANARIES.items() if canary.casefold() in folded]
