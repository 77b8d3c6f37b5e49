"""The public status page in a real browser (Debian's chromium, through Playwright), served
by gunicorn: no sideways scroll on a phone or a desktop, light and dark, readable status
words, nothing asked of another host, and the live part polled through htmx; and its feed
and badges over HTTP.

Playwright's loop forbids ORM calls in this thread once it runs: the rows come first.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect, sync_playwright

from probes.models import Incident, Period, Rollup, StatusTransition
from tests.conftest import ROOT, missing
from tests.e2e.site import Site
from tests.factories import make_dependency

# What a browser lays out and reads does not depend on the database engine: SQLite pass only.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.engine_agnostic]

CHROMIUM = shutil.which("chromium")
SCREENSHOTS = ROOT / "test-output" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTHS = (390, 1440)
# WCAG 2 contrast of an element's text against the page's paper: computed in the page.
CONTRAST = """(element) => {
  const rgb = (text) => text.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => [r, g, b]
    .map((c) => c / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  let box = element;
  const clear = (e) => getComputedStyle(e).backgroundColor === "rgba(0, 0, 0, 0)";
  while (box.parentElement && clear(box)) box = box.parentElement;
  const [a, b] = [rgb(getComputedStyle(element).color), rgb(getComputedStyle(box).backgroundColor)]
    .map(luminance).sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture
def rows(transactional_db: None) -> None:
    now = timezone.now()
    long_name = "Payments, refunds and the settlement of every marketplace order"
    payments = make_dependency(
        "payments-api", public=True, display_name=long_name, group="checkout", critical=True,
        status="down", status_since=now - timedelta(minutes=4), last_checked_at=now,
        breaker_state="open", breaker_opened_at=now,
    )  # fmt: skip
    Incident.objects.create(dependency=payments, started_at=now - timedelta(minutes=4))
    StatusTransition.objects.create(
        dependency=payments, at=now - timedelta(minutes=4), from_status="up", to_status="down"
    )
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for days_ago, down in ((1, 0.0), (2, 3600.0), (40, 0.0)):  # for the 90-day bars
        Rollup.objects.create(
            dependency=payments, period=Period.DAY, start=today - timedelta(days=days_ago),
            up_seconds=86400.0 - down, down_seconds=down,
        )  # fmt: skip
    make_dependency("search", public=True, display_name="Search", group="checkout",
                    status="degraded", status_since=now, last_checked_at=now)  # fmt: skip
    make_dependency("mail", public=True, status="up", last_checked_at=now)
    make_dependency("internal-db", status="up", last_checked_at=now)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_fits_every_width_reads_clearly_and_polls_itself(
    site: Site, rows: None, scheme: str
) -> None:
    if CHROMIUM is None:
        missing("chromium is not installed (as root, make test installs it with apt-get)")
    site.start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for width in WIDTHS:
                page = browser.new_page(
                    viewport={"width": width, "height": 900}, color_scheme=scheme
                )
                check(page, site, width, scheme)
                page.close()
        finally:
            browser.close()


def check(page: Page, site: Site, width: int, scheme: str) -> None:
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{site.url}/status/")

    expect(page.locator(".overall-words")).to_have_text("✕ Major outage")
    expect(page.locator(".entry-title")).to_have_count(3)
    # No sideways scroll: the document is exactly as wide as the viewport.
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
    )
    assert widths == [width, width, width]
    # Each look at the live part in one evaluate: a poll's swap (every second) could come
    # between finding an element and reading it, and a detached element has no style.
    contrasts = page.evaluate(
        f"Array.from(document.querySelectorAll('.entry-status, .overall-words, .notices li'))"
        f".map((e) => [e.innerText, ({CONTRAST})(e)])"
    )
    assert len(contrasts) == 5  # the service, an incident, three entries
    assert [text for text, ratio in contrasts if ratio < 4.5] == []
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(13, 17, 23)") == (scheme == "dark")
    # Live: htmx polls the page's own live part (every second, the site's refresh).
    with page.expect_request(
        lambda r: r.headers.get("hx-request") == "true" and urlsplit(r.url).path == "/status/",
        timeout=15_000,
    ):
        pass
    expect(page.locator("#live")).to_have_count(1)
    # A day of a bar, reached by the keyboard, shows its figure (drawn from its aria-label).
    tooltip = page.evaluate(
        """() => {
          const entries = Array.from(document.querySelectorAll(".entry"));
          const payments = entries.find((e) => e.textContent.includes("Payments, refunds"));
          const day = payments.querySelectorAll(".history-days li")[87];  // two days ago
          day.focus();
          return getComputedStyle(day, "::after").content;
        }"""
    )
    assert "95.83% up, down 1 h" in tooltip
    assert [url for url in requests if not url.startswith(f"{site.url}/")] == []
    assert errors == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"public-status-{width}-{scheme}.png", full_page=True)


def test_the_feed_and_the_badges_over_http(site: Site, rows: None) -> None:
    site.start()

    def get(path: str) -> httpx.Response:
        return httpx.get(f"{site.url}{path}", timeout=10, trust_env=False)

    feed = feedparser.parse(get("/status/feed.atom").content)
    badge = get("/badges/payments-api/status.svg")

    assert feed.bozo == 0
    assert [entry.title for entry in feed.entries] == [
        "Payments, refunds and the settlement of every marketplace order is down"
    ]
    assert badge.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert set(badge.headers["Cache-Control"].split(", ")) == {"public", "max-age=60"}
    assert ">down</text>" in badge.text
    assert get("/badges/internal-db/status.svg").status_code == 404
