"""`/status/`: the public entries only, for customers, without a login; live through htmx."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from probes import maintenance_reader
from probes.models import Incident, MaintenanceWindow, Period, Rollup, WindowSource
from tests.conftest import ROOT
from tests.statuspage.conftest import HTMX, entry, leaked

pytestmark = pytest.mark.django_db

URL = "/status/"


def text_of(html: str) -> str:
    """What a person reads: the markup's text, whitespace folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(autouse=True)
def _ops_pages_need_a_login(settings) -> None:
    settings.SEAHEALTH_PUBLIC_DASHBOARD = False


def test_needs_no_login_while_the_ops_pages_do(client, entries) -> None:
    assert client.get("/").status_code == 302  # the ops page sends to the login

    page = client.get(URL)

    assert page.status_code == 200
    assert "Payments" in page.content.decode()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_shows_nothing_internal(client, entries, headers) -> None:
    page = client.get(URL, **headers).content.decode()

    assert leaked(page) == []
    for internal in ("breaker", "http", "critical", "8443", "latency", "/dependencies/"):
        assert internal not in text_of(page).casefold()


def test_shows_each_public_entry_in_words_with_an_icon_by_group(client, entries) -> None:
    shown = text_of(client.get(URL).content.decode())

    assert "checkout" in shown
    assert "Payments ✕ down" in shown
    assert "search ✓ operational" in shown  # no display name: its name
    # The service's state from public entries only: the critical public one is down.
    assert "✕ Major outage" in shown


def test_says_when_an_entry_went_down_and_lists_the_open_incidents(client, entries) -> None:
    page = client.get(URL).content.decode()
    shown = text_of(page)
    since = entries.payments.status_since.astimezone(UTC)

    assert f"Payments is down since {since:%Y-%m-%d %H:%M} UTC" in shown
    assert shown.count("is down since") == 1  # the closed one and the private one are not
    assert f'datetime="{since:%Y-%m-%dT%H:%M:%SZ}"' in page


@pytest.mark.parametrize(
    ("statuses", "critical", "headline"),
    [
        (["up", "up"], False, "✓ All systems operational"),
        (["up", "degraded"], False, "! Degraded performance"),
        (["up", "down"], False, "! Partial outage"),
        (["up", "down"], True, "✕ Major outage"),
        (["unknown", "unknown"], False, "? Not checked yet"),
        ([], False, "? No services listed"),
    ],
)
def test_the_service_state_comes_from_the_public_entries_alone(
    client, statuses, critical, headline
) -> None:
    for n, status in enumerate(statuses):
        entry(f"public-{n}", status, public=True, critical=critical)
    entry("private-down", "down", critical=True)  # would make the ops page unhealthy

    assert headline in text_of(client.get(URL).content.decode())


def test_the_partial_is_the_live_part_alone_and_polls_itself(client, entries, settings) -> None:
    settings.SEAHEALTH_REFRESH_SECONDS = 7

    partial = client.get(URL, **HTMX)
    page = client.get(URL)

    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="live"')
    assert "<html" not in body
    assert 'hx-get="/status/" hx-trigger="every 7s"' in body
    assert '<section id="live"' in page.content.decode()
    assert "HX-Request" in partial["Vary"]


def test_links_to_no_ops_page(client, entries) -> None:
    page = client.get(URL).content.decode()
    links = set(re.findall(r'href="([^"]+)"', page))

    assert links <= {
        "/status/feed.atom",
        "/static/seahealth/favicon.svg",
        "/static/seahealth/status-page.css",
        "/static/seahealth/shared.css",
    }
    assert "log in" not in page


def test_archived_and_private_entries_and_their_groups_are_not_shown(client, entries) -> None:
    entry("old-public", public=True, display_name="Old service", archived_at=timezone.now())

    shown = text_of(client.get(URL).content.decode())

    assert "Old service" not in shown
    assert leaked(shown) == []


def test_display_names_are_escaped(client, db) -> None:
    entry("tricky", public=True, display_name='<b>Ünïcode & "quotes"</b>', group="<i>g</i>")

    page = client.get(URL).content.decode()

    assert "&lt;b&gt;Ünïcode &amp; &quot;quotes&quot;&lt;/b&gt;" in page
    assert "&lt;i&gt;g&lt;/i&gt;" in page
    assert "<b>" not in page


def test_shows_maintenance_in_progress_and_planned_for_public_entries_only(client, entries) -> None:
    now = timezone.now()

    def window(name: str, match: dict, start, end) -> None:
        MaintenanceWindow.objects.create(
            name=name, source=WindowSource.DECLARED, match=match, start=start, end=end
        )

    window(
        "canary-window-now",
        {"group": ["checkout"]},
        now - timedelta(minutes=5),
        now + timedelta(hours=1),
    )
    window(
        "canary-window-later",
        {"name": ["search"]},
        now + timedelta(days=2),
        now + timedelta(days=2, hours=1),
    )
    window(
        "canary-window-far",
        {"name": ["search"]},
        now + timedelta(days=30),
        now + timedelta(days=31),
    )
    window(
        "canary-window-private",
        {"name": [entries.private.name]},
        now + timedelta(hours=1),
        now + timedelta(hours=2),
    )
    maintenance_reader.forget()

    shown = text_of(client.get(URL).content.decode())

    later = now + timedelta(days=2)
    assert "In progress: Payments, search," in shown
    assert f"Planned: search, {later.astimezone(UTC):%Y-%m-%d %H:%M}" in shown
    assert shown.count("Planned:") == 1  # not the one a month away, nor the private one's
    assert "In maintenance until" in shown
    assert "canary-window" not in shown  # a window's name is ours


def test_the_query_count_does_not_grow_with_the_entries(client, db) -> None:
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)

    def queries_with(count: int, headers: dict) -> int:
        for n in range(count):
            row = entry(f"p-{count}-{n}", "down" if n % 3 else "up", public=True, group=f"g{n % 4}")
            Rollup.objects.create(
                dependency=row, period=Period.DAY, start=day, up_seconds=600.0, down_seconds=6.0
            )
            if n % 3:
                Incident.objects.create(dependency=row, started_at=timezone.now())
        entry(f"private-{count}")
        maintenance_reader.forget()  # each reads the windows in effect afresh
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, **headers).status_code == 200
        return len(captured)

    assert queries_with(2, {}) == queries_with(40, {})
    assert queries_with(3, HTMX) == queries_with(30, HTMX)


def test_the_example_declaration_lists_its_public_entries_by_display_name(client, db) -> None:
    call_command("sync_dependencies", str(ROOT / "dependencies.example.yaml"), stdout=StringIO())

    page = client.get(URL).content.decode()

    titles = re.findall(r'<span class="entry-title">([^<]+)</span>', page)
    assert sorted(titles) == ["Customer portal", "Payments", "Search"]
    assert "demo-payments" not in page
    assert "127.0.0.1" not in page


def test_a_90_day_bar_per_entry_and_per_group_from_the_public_entries_alone(client, db) -> None:
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    payments = entry("payments", public=True, display_name="Payments", group="checkout")
    search = entry("search", public=True, group="checkout")
    private = entry("private-db", group="checkout")
    for row, down in ((payments, 864.0), (search, 0.0), (private, 86400.0)):
        Rollup.objects.create(
            dependency=row,
            period=Period.DAY,
            start=today - timedelta(days=1),
            up_seconds=86400.0 - down,
            down_seconds=down,
        )
    yesterday = f"{today - timedelta(days=1):%Y-%m-%d}"

    page = client.get(URL).content.decode()

    bars = re.findall(r'<ol class="history-days" aria-label="([^"]+)">(.*?)</ol>', page)
    assert [label for label, _ in bars] == [
        "checkout, last 90 days: 99.50% up, 1 day with downtime",  # the private one left out
        "Payments, last 90 days: 99.00% up, 1 day with downtime",
        "search, last 90 days: 100% up",
    ]
    for _, cells in bars:
        assert cells.count('tabindex="0"') == 90
    assert f'aria-label="{yesterday}: 99.00% up, down 14 min"' in bars[1][1]
    # Ids that outlive a poll (htmx gives the focus back), by place on the page, not by name.
    assert f'id="day-g0-{yesterday}"' in bars[0][1]
    assert f'id="day-e0-{yesterday}"' in bars[1][1]
    assert f'id="day-e1-{yesterday}"' in bars[2][1]


def test_states_the_prober_has_not_refreshed_are_shown_as_of_their_time(client, settings):
    settings.SEAHEALTH_READY_MAX_AGE = timedelta(minutes=2)
    checked = timezone.now() - timedelta(minutes=10)
    entry("api", public=True, display_name="API", last_checked_at=checked)

    shown = text_of(client.get(URL).content.decode())

    assert f"Status updates are delayed: this is the status as of {checked:%Y-%m-%d %H:%M} UTC" in (
        shown
    )
    assert "As of" not in shown


def test_current_states_are_as_of_now(client, settings):
    settings.SEAHEALTH_READY_MAX_AGE = timedelta(minutes=2)
    entry("api", public=True, display_name="API", last_checked_at=timezone.now())

    shown = text_of(client.get(URL, **HTMX).content.decode())

    assert "As of " in shown
    assert "delayed" not in shown
