"""The pages in maintenance: the status page marks the row "in maintenance until HH:MM",
the dependency page says so, and its timeline shows each window's start and end."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from freezegun import freeze_time

from probes.models import BreakerTransition, MaintenanceWindow, WindowSource
from tests.dashboard.test_views import dependency
from tests.factories import T0

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def one_off(name: str = "db-upgrade", start=T0, hours: float = 1, **match) -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(
        name=name,
        source=WindowSource.DECLARED,
        match=match or {"name": ["db"]},
        start=start,
        end=start + timedelta(hours=hours),
    )


def row_of(page: str, name: str) -> str:
    return re.search(
        rf'<tr class="row-[a-z]+">(?:(?!</tr>).)*id="dep-{name}"(?:(?!</tr>).)*</tr>', page, re.S
    )[0]


@pytest.mark.parametrize(
    ("moment", "marked"),
    [
        (T0 - timedelta(minutes=1), False),
        (T0, True),
        (T0 + timedelta(minutes=59), True),
        (T0 + timedelta(hours=1), False),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX])
def test_the_status_page_marks_a_row_in_maintenance_until_its_end(
    viewer,
    moment,
    marked,
    headers,
) -> None:
    one_off()
    with freeze_time(moment):
        dependency("db", "down")
        dependency("search")
        page = viewer.get("/", **headers).content.decode()
    db = row_of(page, "db")
    assert ("in maintenance until" in db) is marked
    if marked:
        assert '<time datetime="2026-11-23T11:00:00Z"' in db
        assert ">11:00</time>" in db
        assert "down" in db  # still shown as it is
    assert "in maintenance" not in row_of(page, "search")


def test_the_dependency_page_says_it_is_in_maintenance(viewer) -> None:
    one_off()
    with freeze_time(T0 + timedelta(minutes=5)):
        dependency("db", "down")
        page = viewer.get("/dependencies/db/").content.decode()
    assert "in maintenance until" in page
    assert "(window db-upgrade)" in page


def test_the_timeline_shows_each_window_start_and_end_among_the_transitions(viewer) -> None:
    one_off("first", start=T0 - timedelta(days=2))
    one_off("now", start=T0 - timedelta(minutes=30))  # begun, not ended
    one_off("elsewhere", start=T0 - timedelta(days=1), group=["other"])
    MaintenanceWindow.objects.create(
        name="nightly",
        source=WindowSource.API,
        match={"name": ["db"]},
        rrule="FREQ=DAILY;BYHOUR=3",
        duration=timedelta(minutes=30),
        timezone="Europe/Berlin",
    )
    with freeze_time(T0):
        row = dependency("db")
        BreakerTransition.objects.create(
            dependency=row,
            at=T0 - timedelta(days=1),
            from_state="closed",
            to_state="open",
            reason="3 consecutive failures",
        )
        page = viewer.get("/dependencies/db/").content.decode()
    table = page.split("<h2>Timeline</h2>")[1].split("</table>")[0]
    cells = r'<time datetime="([^"]+)"[^>]*>[^<]*</time></td><td class="([^"]+)">([^<]+)</td>'
    shown = re.findall(cells + r"<td>([^<]+)</td>", table)
    newest = [(when, change, why) for when, _, change, why in shown[:5]]
    assert newest == [
        ("2026-11-23T09:30:00Z", "maintenance begins", "window now (declared)"),
        ("2026-11-23T02:30:00Z", "maintenance ends", "window nightly (api)"),
        ("2026-11-23T02:00:00Z", "maintenance begins", "window nightly (api)"),
        ("2026-11-22T10:00:00Z", "closed → open", "3 consecutive failures"),
        ("2026-11-22T02:30:00Z", "maintenance ends", "window nightly (api)"),
    ]
    assert (
        "2026-11-21T11:00:00Z",
        "maintenance",
        "maintenance ends",
        "window first (declared)",
    ) in shown
    assert not any("elsewhere" in why for *_, why in shown)
