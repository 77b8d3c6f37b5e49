"""The pages' layout in a real browser (headless Chromium, as in test_browser.py): on a phone
(390 px) and a desktop (1440 px) no page scrolls sideways, the status page's rows are cards
on the phone and its columns line up across groups on the desktop, and axe-core finds no
WCAG 2.1 A or AA violation, in the light scheme and the dark one."""

# The browser fixtures come from test_browser.py, and tests take them as arguments.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from probes.models import BreakerTransition, Dependency, ProbeResult
from tests.conftest import ROOT, missing
from tests.e2e.site import Site
from tests.e2e.test_browser import (  # noqa: F401 - fixtures
    WAIT_MS,
    Chromium,
    account,
    chromium,
    log_in,
    screenshot,
)
from tests.factories import make_dependency

# What a browser lays out and reads does not depend on the database engine: SQLite pass only.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.engine_agnostic]

PHONE, DESKTOP = 390, 1440
HEIGHT = 900
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Long enough to wrap in its column on a phone: it must wrap whole, never as "payments-↵ledger".
LONG_NAME = "payments-ledger-reconciliation"
LONG_ERROR = (
    "unexpected_status: HTTP 503 from https://ledger.internal.example.com/v2/reconciliation/"
    "health?verbose=true&include=accounts,journals,settlements (expected 200)"
)


def declare_rows() -> None:
    """Two groups of rows in every state, with long names, long errors, an SLO, recent checks
    and a dependency page's worth of history: what stretches a layout."""
    now = timezone.now()
    t = int(now.timestamp())
    healthy = [[t - 30 * (39 - i), "s", 40.0 + i % 7] for i in range(40)]
    flaky = [[t - 30 * (5 - i), result, None] for i, result in enumerate("ssdsff")]
    # Checked just now and due in a minute: the prober is not behind.
    seen = {
        "last_checked_at": now,
        "status_since": now - timedelta(hours=2),
        "next_due_at": now + timedelta(minutes=1),
    }
    slo = {"objective": 0.999, "window": 30 * 86400.0, "min_checks": 3}
    make_dependency(
        "payments-api",
        group="payments",
        critical=True,
        public=True,
        display_name="Payments",
        status="up",
        recent=healthy,
        last_latency_ms=41.0,
        uptime_24h=1.0,
        uptime_7d=0.9995,
        uptime_30d=0.99996,
        slo=slo,
        slo_figures={"availability": 0.99958, "remaining": 0.42, "remaining_minutes": 18.1},
        **seen,
    )
    ledger = make_dependency(
        LONG_NAME,
        group="payments",
        critical=True,
        public=True,
        status="down",
        breaker_state="open",
        breaker_opened_at=now,
        last_error=LONG_ERROR,
        recent=flaky,
        uptime_24h=0.0,
        uptime_7d=0.5,
        uptime_30d=0.75,
        slo=slo,
        slo_figures={
            "availability": 0.99899,
            "remaining": -0.00001,
            "remaining_minutes": -0.4,
            "alert": "page",
            "rule": "1h and 5m over 14.4",
        },
        last_observations={"status_code": 503, "server": "envoy/" + "x" * 80},
        **seen,
    )
    # An SLO with no figures yet: the mail group alone has the error budget's column too.
    make_dependency(
        "mailer", kind="smtp", group="mail", status="degraded", recent=flaky, slo=slo, **seen
    )
    # Never checked: unknown, no figures.
    make_dependency("search", group="mail", next_due_at=now + timedelta(minutes=1))
    ProbeResult.objects.bulk_create(
        ProbeResult(
            dependency=ledger,
            checked_at=now - timedelta(seconds=30 * n),
            result="failure",
            error_class="unexpected_status",
            detail=LONG_ERROR,
        )
        for n in range(5)
    )
    BreakerTransition.objects.create(
        dependency=ledger, at=now, from_state="closed", to_state="open", reason=LONG_ERROR
    )
    assert Dependency.objects.count() == 4


def pages() -> list[tuple[str, str]]:
    """What each width is checked on, the login page logged out: (name, path)."""
    return [
        ("login", "/accounts/login/"),
        ("status", "/"),
        ("dependency", f"/dependencies/{LONG_NAME}/"),
        ("public status", "/status/"),
    ]


def sideways(page: Page) -> int:
    """How far the document reaches past the viewport's right edge, in px (0: it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: tags})", AXE_TAGS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}; at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in result["violations"]
    ]


def open_pages(chromium: Chromium, site: Site, width: int, **options):
    """Each page at `width`, the login page before logging in: yields (name, page)."""
    page, traffic = chromium.new_page(viewport={"width": width, "height": HEIGHT}, **options)
    for name, path in pages():
        if name == "status":
            log_in(page, site)
        else:
            page.goto(f"{site.url}{path}")
        expect(page.locator("main h1").first).to_be_visible()
        yield name, page
    traffic.assert_clean(site)


def test_no_page_scrolls_sideways_on_a_phone_or_a_desktop(
    site: Site, chromium: Chromium, account: None
) -> None:
    declare_rows()
    site.start()
    overflow = {}
    for width in (PHONE, DESKTOP):
        for name, page in open_pages(chromium, site, width):
            overflow[f"{name} at {width} px"] = sideways(page)
            screenshot(page, f"layout-{name}-{width}.png")
            if name != "status":
                continue
            # The header bar spans the width; a name wraps whole or not at all.
            assert page.locator("header.top").bounding_box()["width"] == width
            link = page.locator(f"#dep-{LONG_NAME}")
            font = float(link.evaluate("a => parseFloat(getComputedStyle(a).fontSize)"))
            assert link.bounding_box()["height"] < 2 * font, "the name broke over two lines"
            rows = page.locator("#live table.dependencies tbody tr")
            shown = "grid" if width == PHONE else "table-row"  # a card each on the phone
            assert (
                rows.evaluate_all("rows => rows.map(r => getComputedStyle(r).display)")
                == [shown] * 4
            )
    assert overflow == dict.fromkeys(overflow, 0)


def cell_edges(page: Page) -> list[list[tuple[int, int]]]:
    """Per group's table, the left edge and width of each cell of its first row."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#live table.dependencies')].map(table =>
             [...table.tBodies[0].rows[0].cells].map(cell => {
               const box = cell.getBoundingClientRect();
               return [Math.round(box.left), Math.round(box.width)];
             }))"""
    )


def test_the_columns_line_up_across_groups_whatever_the_rows_hold(
    site: Site, chromium: Chromium, account: None
) -> None:
    declare_rows()
    site.start()
    page, traffic = chromium.new_page(viewport={"width": DESKTOP, "height": HEIGHT})
    log_in(page, site)
    payments, mail = cell_edges(page)
    # The payments group holds a long name and a long error, the mail group neither.
    assert len(payments) == 9  # the error budget's column included: an SLO is shown
    assert payments == mail
    # The mail group alone (as a filter, or a refresh, would show it) keeps the same columns.
    page.goto(f"{site.url}/?group=mail")
    expect(page.locator("#live table.dependencies")).to_have_count(1)
    assert cell_edges(page) == [mail]
    # And a swap of the live part (what a poll brings after a change) moves nothing either.
    # Nothing changes here, so polls swap nothing: the part is asked for as a filter does.
    page.evaluate("document.getElementById('live').dataset.before = 'swap'")
    page.evaluate("htmx.ajax('GET', location.href, {target: '#live', swap: 'outerHTML'})")
    expect(page.locator("#live[data-before]")).to_have_count(0, timeout=WAIT_MS)
    assert cell_edges(page) == [mail]
    traffic.assert_clean(site)


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_axe_finds_no_wcag_a_or_aa_violation_in_light_or_dark(
    site: Site, chromium: Chromium, account: None, width: int
) -> None:
    if not AXE.exists():
        missing("axe-core is not installed (make test runs npm ci)")
    declare_rows()
    site.start()
    found = {}
    for scheme in ("light", "dark"):
        for name, page in open_pages(chromium, site, width, color_scheme=scheme):
            found[f"{name}, {scheme}"] = axe_violations(page)
    assert found == {page: [] for page in found}


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_a_large_group_is_its_problems_and_a_line_that_links_to_the_rest(
    site: Site, chromium: Chromium, account: None, width: int
) -> None:
    now = timezone.now()
    for n in range(60):
        make_dependency(
            f"fleet-{n:02}",
            group="fleet",
            status="down" if n < 2 else "up",
            last_checked_at=now,
            status_since=now - timedelta(minutes=5),
            next_due_at=now + timedelta(minutes=1),
        )
    site.start()
    page, traffic = chromium.new_page(viewport={"width": width, "height": HEIGHT})
    log_in(page, site)
    expect(page.locator("#live table.dependencies tbody:not(.collapsed) tr")).to_have_count(2)
    line = page.get_by_role("link", name="58 up, not shown: show all 60")
    expect(line).to_be_visible()
    assert sideways(page) == 0
    screenshot(page, f"status-collapsed-{width}.png")
    if AXE.exists():
        assert axe_violations(page) == []
    # Before leaving: a poll in flight as the link is followed is cancelled, not failed.
    traffic.assert_clean(site)
    line.click()
    expect(page).to_have_url(f"{site.url}/?group=fleet&expand=1")
    expect(page.locator("#live table.dependencies tbody tr")).to_have_count(60)
