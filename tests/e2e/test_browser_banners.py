"""The status page is honest about what it cannot know, in a real browser: a banner when
its polls fail (the web server killed) that clears when they succeed again; a banner when
dependencies.yaml is refused, naming each problem, that clears when the file is fixed; and a
banner when the prober stops recording. gunicorn and runprobes are real processes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.site import Site
from tests.e2e.test_browser import WAIT_MS, Chromium, screenshot

# The browser fixture, imported under its own name so that pytest finds it here.
from tests.e2e.test_browser import chromium as chromium
from tests.e2e.test_browser_layout import sideways
from tests.factories import make_dependency
from tests.servers import LocalHTTPServer

pytestmark = pytest.mark.django_db(transaction=True)

# A poll every second (Site's SEAHEALTH_REFRESH_SECONDS): within a few, the banner shows.
LOST = re.compile(r"^connection lost: last update \d\d:\d\d:\d\d UTC \(\d+ s ago\), retrying$")


def declaration(url: str, kind: str = "http") -> str:
    return f"""
dependencies:
  - name: checkout-api
    kind: {kind}
    url: {url}
    interval: 1s
    timeout: 1s
"""


def open_status_page(chromium: Chromium, site: Site, path: str = "/") -> Page:
    page, _ = chromium.new_page()
    page.goto(f"{site.url}{path}")
    expect(page.locator("#live")).to_be_visible()
    return page


@pytest.mark.parametrize("path", ["/", "/status/"], ids=["ops", "public"])
def test_a_lost_connection_is_said_and_cleared_when_the_server_is_back(
    site: Site, chromium: Chromium, path: str
) -> None:
    make_dependency("api", status="up", public=True)
    site.start(SEAHEALTH_PUBLIC_DASHBOARD="true")
    page = open_status_page(chromium, site, path)
    banner = page.locator("#connection-lost")
    expect(banner).to_have_count(0)

    site.stop_serving()
    expect(banner).to_have_text(LOST, timeout=WAIT_MS)
    expect(banner).to_be_visible()
    expect(page.locator("#live")).to_have_class(re.compile(r"\bdisconnected\b"))
    screenshot(page, f"connection-lost-{path.strip('/') or 'ops'}.png")

    site.serve_again()
    expect(banner).to_be_hidden(timeout=WAIT_MS)
    expect(page.locator("#live")).not_to_have_class(re.compile(r"\bdisconnected\b"))


def test_a_refused_declaration_and_a_silent_prober_are_said_on_the_page(
    site: Site, chromium: Chromium, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    path = tmp_path / "dependencies.yaml"
    path.write_text(declaration(http_server.url()))
    site.start(path, SEAHEALTH_PUBLIC_DASHBOARD="true", SEAHEALTH_READY_MAX_AGE="4s")
    page = open_status_page(chromium, site)
    expect(page.locator("#live tbody tr")).to_contain_text("checkout-api", timeout=WAIT_MS)
    refused = page.locator(".alert-declaration")
    expect(refused).to_have_count(0)

    path.write_text(declaration(http_server.url(), kind="htp"))
    expect(refused).to_be_visible(timeout=WAIT_MS)
    expect(refused).to_contain_text("dependencies.yaml was refused")
    expect(refused).to_contain_text(
        re.compile(r"Still probing the previous declaration, from \d\d:\d\d UTC")
    )
    expect(refused.locator("li")).to_have_text(
        [
            re.compile(
                rf"^{re.escape(str(path))}:4: entry 1 'checkout-api', field 'kind': unknown kind"
            )
        ]
    )
    screenshot(page, "declaration-refused.png")
    # Its long lines (the file's path, the problem) wrap on a phone: nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert sideways(page) == 0
    screenshot(page, "declaration-refused-390.png")
    page.set_viewport_size({"width": 1440, "height": 900})

    path.write_text(declaration(http_server.url()))
    expect(refused).to_have_count(0, timeout=WAIT_MS)

    site.processes[0].stop()  # runprobes, started first
    stale = page.locator(".alert-stale")
    expect(stale).to_be_visible(timeout=WAIT_MS)
    expect(stale).to_contain_text(
        re.compile(
            r"The prober has recorded nothing for \d+ s:\s+these states are from \d\d:\d\d UTC"
        )
    )
    screenshot(page, "prober-silent.png")
