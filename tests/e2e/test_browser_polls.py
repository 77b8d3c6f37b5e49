"""The status page's polls in a real browser (headless Chromium, as in test_browser.py): a
poll while nothing changed swaps nothing (an attribute set on a row survives it, and the
connection stays good), a change swaps the live part in, and a relative time keeps ageing
in between. gunicorn is a real process; the rows are written here (no prober: nothing moves
unless the test moves it)."""

# The browser fixtures come from test_browser.py, and tests take them as arguments.
# ruff: noqa: F811

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Response, expect

from probes.models import Dependency, StateVersion
from tests.e2e.site import Site
from tests.e2e.test_browser import (  # noqa: F401 - fixtures
    WAIT_MS,
    Chromium,
    chromium,
    status_of,
)
from tests.factories import make_dependency

# What a browser does with a 204 does not depend on the database engine: SQLite pass only.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.engine_agnostic]


def in_another_thread(write) -> None:
    """Run `write` (ORM calls) off this thread, where Playwright's event loop forbids them."""

    def run() -> None:
        try:
            write()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_an_unchanged_poll_swaps_nothing_and_a_change_swaps_the_row(
    site: Site, chromium: Chromium
) -> None:
    now = timezone.now()
    for name in ("checkout-api", "search-api"):
        make_dependency(
            name,
            status="up",
            last_checked_at=now - timedelta(seconds=20),
            next_due_at=now + timedelta(hours=1),
            interval=timedelta(hours=1),  # the prober's silence is hours away
        )
    site.start(SEAHEALTH_PUBLIC_DASHBOARD="true")
    page, traffic = chromium.new_page()
    polls: list[int] = []

    def on_response(response: Response) -> None:
        if response.request.headers.get("hx-request") == "true":
            polls.append(response.status)

    page.on("response", on_response)
    page.goto(f"{site.url}/")
    expect(status_of(page, "checkout-api")).to_have_text(re.compile(r"\bup$"))
    row = page.locator("#live tbody tr").filter(has=page.get_by_role("link", name="checkout-api"))
    row.evaluate("row => row.setAttribute('data-marker', 'set by the test')")
    checked = row.locator("td.when time")
    shown_at_first = checked.text_content()

    # A poll a second (Site's SEAHEALTH_REFRESH_SECONDS): three answered 204, nothing swapped.
    deadline = time.monotonic() + WAIT_MS / 1000
    while polls.count(204) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # Playwright's loop runs meanwhile: responses are seen
    assert polls.count(204) >= 3, polls
    assert 200 not in polls
    expect(page.locator("#live tbody tr[data-marker='set by the test']")).to_have_count(1)
    expect(page.locator("#connection-lost")).to_have_count(0)
    # Its relative time ages in the browser meanwhile: "20 s ago" no longer.
    expect(checked).not_to_have_text(shown_at_first or "", timeout=WAIT_MS)
    expect(checked).to_have_text(re.compile(r"^\d+ s ago$"))

    def goes_down() -> None:
        Dependency.objects.filter(name="checkout-api").update(
            status="down", breaker_state="open", last_error="connect: connection refused"
        )
        StateVersion.bump()  # as recording does

    in_another_thread(goes_down)
    expect(status_of(page, "checkout-api")).to_have_text(re.compile(r"\bdown$"), timeout=WAIT_MS)
    assert 200 in polls
    expect(page.locator("#live tbody tr[data-marker]")).to_have_count(0)
    traffic.assert_clean(site)
