"""End to end, in a real browser: headless Chromium (Debian's `chromium`, driven by Playwright)
against the dashboard served by gunicorn and fed by `manage.py runprobes`, both real processes
on the test database. Screenshots go to test-output/browser/ at the repository's root.

Once Playwright runs, its event loop runs in this thread and Django refuses ORM calls here
(SynchronousOnlyOperation): tests write their rows first, then open the browser.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Frame,
    Locator,
    Page,
    Playwright,
    Request,
    Response,
    expect,
    sync_playwright,
)

from probes.models import Period, Rollup
from probes.rollups import bucket_start
from tests.conftest import missing
from tests.e2e.site import Site
from tests.factories import make_dependency
from tests.servers import LocalHTTPServer

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "browser"
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
USERNAME, PASSWORD = "ops", "a-browser-test-password"
NAME = "browser-api"
# The protocol needs about two seconds per change (a 1 s probe interval, a 1 s poll); the rest
# is margin for a loaded machine.
WAIT_MS = 15_000


@dataclass
class Traffic:
    """What the browser did besides showing the page: requests, console errors, page errors."""

    requests: list[str] = field(default_factory=list)
    htmx_requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def on_request(request: Request) -> None:
            self.requests.append(request.url)
            if request.headers.get("hx-request") == "true":
                self.htmx_requests.append(request.url)

        def on_response(response: Response) -> None:
            if response.status >= 400:
                self.failed.append(f"{response.status} {response.url}")

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.console_errors.append(f"{message.text} at {message.location}")

        def on_navigation(frame: Frame) -> None:
            if frame == page.main_frame:
                self.navigations.append(frame.url)

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfailed", lambda request: self.failed.append(f"failed {request.url}"))
        page.on("console", on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("framenavigated", on_navigation)

    def assert_clean(self, site: Site) -> None:
        assert self.requests, "no request seen: the listeners are not attached"
        problems = {
            "console errors": self.console_errors,
            "page errors": self.page_errors,
            "failed requests": self.failed,
            # data: and blob: URLs reach no host; anything else must be this server.
            "requests to another host": [
                url
                for url in self.requests
                if urlsplit(url).scheme not in {"data", "blob"}
                and not url.startswith(f"{site.url}/")
            ],
        }
        assert {what: found for what, found in problems.items() if found} == {}


class Chromium:
    """Headless Chromium, started on the first page asked for (after the test's rows)."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def new_page(self, **context_options) -> tuple[Page, Traffic]:
        if self._browser is None:
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
        page = self._browser.new_context(**context_options).new_page()
        traffic = Traffic()
        traffic.watch(page)
        return page, traffic

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()


@pytest.fixture
def account(django_user_model) -> None:
    django_user_model.objects.create_user(USERNAME, password=PASSWORD)


@pytest.fixture
def chromium(transactional_db: None) -> Iterator[Chromium]:
    """Closed before the database is flushed: the flush is an ORM call Playwright's loop forbids."""
    if CHROMIUM is None:
        missing("chromium is not installed (as root, make test installs it with apt-get)")
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.close()


def log_in(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("User name").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{site.url}/")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")
    return path


def status_of(page: Page, name: str) -> Locator:
    """The status badge in the status page's row of `name`."""
    row = page.locator("#live tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))
    return row.locator(".status")


def test_a_dependency_goes_down_live_when_its_peer_stops_and_its_page_shows_why(
    site: Site, chromium: Chromium, http_server: LocalHTTPServer, account: None, tmp_path: Path
) -> None:
    declaration = tmp_path / "dependencies.yaml"
    declaration.write_text(
        f"""
dependencies:
  - name: {NAME}
    kind: http
    critical: true
    group: browser
    url: {http_server.url()}
    interval: 1s
    timeout: 1s
    breaker: {{failure_threshold: 1, recovery_timeout: 1h, success_threshold: 1}}
"""
    )
    site.start(declaration)
    page, traffic = chromium.new_page()
    log_in(page, site)

    expect(status_of(page, NAME)).to_have_text(re.compile(r"\bup$"), timeout=WAIT_MS)
    page.evaluate("window.__marker = 1")
    navigations = len(traffic.navigations)
    polls = len(traffic.htmx_requests)
    http_server.stop()
    expect(status_of(page, NAME)).to_have_text(re.compile(r"\bdown$"), timeout=WAIT_MS)
    expect(page.locator("#live h1")).to_have_text(re.compile(r"Service unhealthy$"))
    # Swapped in by htmx's poll: the same document, never reloaded.
    assert page.evaluate("window.__marker") == 1
    assert len(traffic.navigations) == navigations
    assert len(traffic.htmx_requests) > polls
    screenshot(page, "status.png")

    page.get_by_role("link", name=NAME, exact=True).click()
    expect(page).to_have_url(f"{site.url}/dependencies/{NAME}/")
    expect(page.locator("h1")).to_contain_text(NAME)
    expect(page.locator("svg.latency-chart")).to_be_visible()
    expect(page.locator("table.timeline tbody tr").first).to_contain_text("closed → open")
    screenshot(page, "dependency.png")
    traffic.assert_clean(site)


def test_the_status_page_works_without_javascript(
    site: Site, chromium: Chromium, account: None
) -> None:
    make_dependency("api", status="up", group="payments")
    make_dependency(
        "mailer",
        kind="smtp",
        status="down",
        breaker_state="open",
        breaker_opened_at=timezone.now(),
        last_error="connect: connection refused",
    )
    site.start()
    page, traffic = chromium.new_page(java_script_enabled=False)
    log_in(page, site)
    expect(status_of(page, "api")).to_have_text(re.compile(r"\bup$"))
    expect(status_of(page, "mailer")).to_have_text(re.compile(r"\bdown$"))
    screenshot(page, "status-without-javascript.png")

    # The filters are a plain GET form: without htmx, submitting it loads the filtered page.
    page.get_by_label("Status").select_option("down")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"\?status=down"))
    expect(status_of(page, "mailer")).to_have_text(re.compile(r"\bdown$"))
    expect(page.get_by_role("link", name="api", exact=True)).to_have_count(0)
    assert traffic.htmx_requests == []
    traffic.assert_clean(site)


def test_a_day_of_the_90_day_bar_shows_its_figure_on_focus_and_keeps_it_across_polls(
    site: Site, chromium: Chromium, account: None
) -> None:
    row = make_dependency("api", status="up", group="payments", last_checked_at=timezone.now())
    yesterday = bucket_start(timezone.now(), Period.DAY) - timedelta(days=1)
    Rollup.objects.create(
        dependency=row,
        period=Period.DAY,
        start=yesterday,
        count=10,
        up_seconds=86400 - 864,
        down_seconds=864,
    )
    site.start()
    page, traffic = chromium.new_page(viewport={"width": 1440, "height": 900})
    log_in(page, site)
    bar = page.get_by_role("list", name=re.compile(r"^payments, last 90 days: 99\.00% up"))
    expect(bar).to_be_visible()
    # From the day before it, the keyboard reaches yesterday's cell.
    bar.locator("li").nth(87).focus()
    page.keyboard.press("Tab")
    focused = page.locator("li:focus")
    figure = f"{yesterday:%Y-%m-%d}: 99.00% up, down 14 min"
    expect(focused).to_have_attribute("aria-label", figure)
    tooltip = focused.evaluate("cell => getComputedStyle(cell, '::after').content")
    assert tooltip == f'"{figure}"'
    # Polls swap the live part every second: the focus stays on the same day.
    for _ in range(2):  # the first swapped in by the time the second answers
        with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
            pass
    expect(page.locator("li:focus")).to_have_attribute("aria-label", figure)
    screenshot(page, "history-bar-focused.png")

    page.get_by_role("link", name="api", exact=True).click()
    history = page.get_by_role("list", name=re.compile(r"^api, last 90 days"))
    expect(history.locator("li")).to_have_count(90)
    # A new install's chart opens on the shortest window, its points titled in UTC.
    expect(page.locator('.windows a[aria-current="page"]')).to_have_text("1h")
    expect(page.locator("svg.latency-chart rect.point title").last).to_have_text(
        re.compile(r"^\w{3} \d+ \d\d:\d\d UTC: ")
    )
    screenshot(page, "dependency-history.png")
    traffic.assert_clean(site)
