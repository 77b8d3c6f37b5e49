"""A dependency's SLO on the pages (issue 14): its page leads with the objective, the
availability and the error budget left, then the budget over time and the burn rates; the
status page shows each budget left and sorts by it on request. Real scheduling and
recording in frozen time (tests/probes/simulation.py), the figures refreshed as the prober
refreshes them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from dashboard import live_state
from dashboard.formatting import NO_VALUE
from probes import error_budgets, maintenance_reader, rollups
from probes.models import Dependency
from probes.slo import Slo
from tests.factories import T0, make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)
HTMX = {"HTTP_HX_REQUEST": "true"}
# 99% over a day: 864 s of budget, 14.4 minutes.
DAILY_99 = Slo(objective=0.99, window=86400.0)


def declare(name: str, slo: Slo | None = DAILY_99, **fields) -> Dependency:
    """Probed every 30 s; down after one failure, tried again 30 s later."""
    return make_dependency(
        name,
        interval=timedelta(seconds=30),
        failure_threshold=1,
        recovery_timeout=timedelta(seconds=30),
        slo=slo.stored() if slo else None,
        **fields,
    )


def probed(peer_up, since: datetime, until: datetime) -> None:
    """The prober's run, then its refreshes, as at `until`."""
    simulation.run(peer_up, since, until)
    rollups.refresh_uptimes(until)
    error_budgets.refresh(until)


def always_up(name: str, at: datetime) -> bool:
    return True


class _Balance(HTMLParser):
    """Every element opened is closed, in order (void elements aside)."""

    VOID = {"br", "col", "input", "meta", "link", "img", "hr", "circle", "line", "path", "polyline"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def balanced(page: str) -> list[str]:
    parser = _Balance()
    parser.feed(page)
    return parser.errors + [f"<{tag}> never closed" for tag in parser.open]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def slo_section(page: str) -> str:
    return page.split('<section class="slo">')[1].split("</section>")[0]


class TestDependencyPage:
    def test_leads_with_objective_availability_and_budget_left(self, viewer) -> None:
        declare("api")
        # Down 5 min of every 30 min, for two hours: 20 minutes of a day's 14.4.
        probed(simulation.duty_cycle(1500, 300, T0), T0, T0 + 2 * HOUR)
        figures = Dependency.objects.get(name="api").slo_figures
        assert figures["remaining"] < 0

        with freeze_time(T0 + 2 * HOUR):
            page = viewer.get("/dependencies/api/").content.decode()

        assert balanced(page) == []
        section = slo_section(page)
        # First on the page, before the latency chart.
        assert page.index('<section class="slo">') < page.index("<h2>Latency</h2>")
        shown = text_of(section)
        assert "Objective 99% over 1d" in shown
        availability = int(figures["availability"] * 10000) / 100
        assert f"Availability {availability:.2f}% over 2 h of data" in shown
        overspent = -figures["remaining_minutes"]
        assert f"overspent by {int(overspent) + 1} min" in shown
        assert '<div class="overspent"><dt>Error budget remaining</dt>' in section
        assert '<svg class="budget-chart"' in section
        assert "<polyline" in section.split('<svg class="budget-chart"')[1].split("</svg>")[0]

    def test_shows_a_burn_rate_per_window_and_the_alert_that_fires(self, viewer) -> None:
        declare("api")
        # Up for an hour, then down for the last ten minutes.
        probed(
            lambda name, at: at < T0 + 70 * timedelta(minutes=1), T0, T0 + 80 * timedelta(minutes=1)
        )
        figures = Dependency.objects.get(name="api").slo_figures
        assert figures["alert"] == "page"

        with freeze_time(T0 + 80 * timedelta(minutes=1)):
            page = viewer.get("/dependencies/api/").content.decode()

        section = slo_section(page)
        assert "Burn alert: <strong>page</strong>" in section
        assert f"({figures['rule']})" in section
        rows = re.findall(r'<tr><th scope="row">(\w+)</th><td class="num">([^<]+)</td>', section)
        assert [window for window, _ in rows] == list(error_budgets.BURN_WINDOWS)
        # Down all of the last 5 minutes: a hundred times the 1% allowed.
        assert dict(rows)["5m"] == "100.00\N{MULTIPLICATION SIGN}"
        assert dict(rows)["1h"] == f"{figures['burn']['1h']:.2f}\N{MULTIPLICATION SIGN}"

    def test_a_window_with_too_few_checks_says_so_instead_of_a_rate(self, viewer) -> None:
        declare("api", slo=Slo(objective=0.99, window=86400.0, min_checks=20))
        probed(always_up, T0, T0 + HOUR)  # 120 checks an hour: 10 in 5 min, 60 in 30

        with freeze_time(T0 + HOUR):
            section = slo_section(viewer.get("/dependencies/api/").content.decode())

        rows = dict(re.findall(r'<th scope="row">(\w+)</th>(.*?)</tr>', section))
        assert re.search(r"too few checks \(1[01] &lt; 20\)", rows["5m"])
        assert "too few checks" not in rows["30m"]
        assert "0.00\N{MULTIPLICATION SIGN}" in rows["30m"]

    def test_a_full_budget_is_told_in_minutes_left(self, viewer) -> None:
        declare("api")
        probed(always_up, T0, T0 + HOUR)

        with freeze_time(T0 + HOUR):
            shown = text_of(slo_section(viewer.get("/dependencies/api/").content.decode()))

        assert "Error budget remaining 100% 14 min left" in shown
        assert "Burn alert" not in shown

    def test_an_slo_with_no_data_yet_renders_and_says_so(self, viewer) -> None:
        declare("api")
        error_budgets.refresh(T0)

        with freeze_time(T0):
            response = viewer.get("/dependencies/api/")

        assert response.status_code == 200
        page = response.content.decode()
        assert balanced(page) == []
        shown = text_of(slo_section(page))
        assert "Availability no data yet" in shown
        assert f"Error budget remaining {NO_VALUE}" in shown
        assert "no data yet</text></svg>" in slo_section(page)
        assert "too few checks (0 &lt; 3)" in shown

    def test_figures_not_yet_refreshed_read_as_no_data(self, viewer) -> None:
        declare("api", slo_figures={})
        page = viewer.get("/dependencies/api/").content.decode()
        assert "Availability no data yet" in text_of(slo_section(page))

    def test_without_an_slo_only_a_hint_to_declare_one(self, viewer) -> None:
        declare("api", slo=None)
        probed(always_up, T0, T0 + HOUR)

        with freeze_time(T0 + HOUR):
            page = viewer.get("/dependencies/api/").content.decode()

        assert '<section class="slo">' not in page
        assert "budget-chart" not in page
        assert "No SLO declared: <code>slo: {objective: 99.9%, window: 30d}</code>" in page

    def test_the_figures_are_read_from_the_row_not_computed_per_request(self, viewer) -> None:
        declare("api")
        probed(always_up, T0, T0 + HOUR)
        # What refresh() stored is what the page shows, whatever the rollups say now.
        Dependency.objects.filter(name="api").update(
            slo_figures=Dependency.objects.get(name="api").slo_figures
            | {"availability": 0.995, "remaining": 0.5, "remaining_minutes": 7.2}
        )

        with freeze_time(T0 + HOUR):
            shown = text_of(slo_section(viewer.get("/dependencies/api/").content.decode()))

        assert "Availability 99.50% over 1 h of data" in shown
        assert "Error budget remaining 50.00% 7 min left" in shown


def budget_column(page: str) -> dict[str, str]:
    """Each row's name and the text of its budget cell."""
    rows = re.findall(
        r'href="/dependencies/([^/]+)/">.*?<td class="num budget[^"]*">(.*?)</td>', page
    )
    return {name: text_of(cell) for name, cell in rows}


def names_in_order(page: str) -> list[str]:
    return re.findall(r'id="dep-([^"]+)"', page)


@pytest.fixture
def four_budgets() -> None:
    """healthy: all its budget left; flaky: some of 5% spent; broken: 1% of a day overspent
    (22 minutes down of 14.4, then up);
    plain: no SLO; fresh: an SLO and no data yet."""
    declare("healthy", group="a")
    declare("flaky", slo=Slo(objective=0.95, window=86400.0), group="b")
    declare("broken", group="a")
    declare("plain", slo=None, group="a")

    def peer_up(name: str, at: datetime) -> bool:
        minute = (at - T0).total_seconds() // 60
        return {"flaky": minute != 10, "broken": minute >= 22}.get(name, True)

    probed(peer_up, T0, T0 + HALF_HOUR)
    declare("fresh", group="b", next_due_at=T0 + HOUR)
    error_budgets.refresh(T0 + HALF_HOUR)


class TestStatusPage:
    def test_shows_each_budget_left(self, viewer, four_budgets) -> None:
        with freeze_time(T0 + HALF_HOUR):
            page = viewer.get("/").content.decode()

        budgets = budget_column(page)
        assert budgets["healthy"] == "100%"
        left = Dependency.objects.get(name="flaky").slo_figures["remaining"]
        assert 0 < left < 1
        assert budgets["flaky"] == f"{int(left * 10000) / 100:.2f}%"
        alert = Dependency.objects.get(name="broken").slo_figures["alert"]
        assert budgets["broken"].startswith("-")
        assert budgets["broken"].endswith(f"% burn alert: {alert}")
        assert budgets["plain"] == ""
        assert budgets["fresh"] == "no data yet"
        assert balanced(page) == []

    def test_sorts_by_budget_left_on_request_the_slo_less_last(self, viewer, four_budgets) -> None:
        with freeze_time(T0 + HALF_HOUR):
            page = viewer.get("/?sort=budget").content.decode()

        assert names_in_order(page) == ["broken", "flaky", "healthy", "fresh", "plain"]
        assert "all groups, lowest error budget first" in page
        assert '<option value="budget" selected>' in page

    def test_without_the_sort_problems_come_first_by_group(self, viewer, four_budgets) -> None:
        with freeze_time(T0 + HALF_HOUR):
            page = viewer.get("/").content.decode()
        # Group b holds one not probed yet (unknown): it comes first.
        assert names_in_order(page) == ["fresh", "flaky", "broken", "healthy", "plain"]
        assert "all groups, lowest error budget first" not in page

    def test_the_sort_is_a_link_that_keeps_the_filters(self, viewer, four_budgets) -> None:
        with freeze_time(T0 + HALF_HOUR):
            page = viewer.get("/?group=a&q=l").content.decode()
            assert '<a href="?group=a&amp;q=l&amp;sort=budget"' in page
            sorted_page = viewer.get("/?group=a&q=l&sort=budget").content.decode()

        assert names_in_order(sorted_page) == ["healthy", "plain"]
        # Back to problems first, the filters still kept.
        assert '<a href="?group=a&amp;q=l" title="problems first, by group">' in sorted_page

    def test_htmx_polls_keep_the_sort(self, viewer, four_budgets, settings) -> None:
        settings.SEAHEALTH_REFRESH_SECONDS = 7
        with freeze_time(T0 + HALF_HOUR):
            page = viewer.get("/?kind=http&sort=budget", **HTMX).content.decode()

        assert page.lstrip().startswith('<section id="live" hx-get="/?kind=http&amp;sort=budget"')
        assert names_in_order(page)[0] == "broken"

    def test_a_long_list_by_budget_shows_its_lowest_and_links_to_every_row(
        self, viewer, four_budgets
    ) -> None:
        for n in range(50):
            declare(f"quiet-{n:02}", slo=None, group="c", status="up")
        with freeze_time(T0 + HALF_HOUR):
            page = viewer.get("/?kind=http&sort=budget").content.decode()
            everything = viewer.get("/?kind=http&sort=budget&expand=1").content.decode()

        shown = names_in_order(page)
        assert shown[:5] == ["broken", "flaky", "healthy", "fresh", "plain"]
        assert shown[5:] == [f"quiet-{n:02}" for n in range(45)]
        assert (
            '<a href="?kind=http&amp;sort=budget&amp;expand=1">5 more, not shown: show all 55</a>'
        ) in page
        assert names_in_order(everything) == [*shown, *(f"quiet-{n:02}" for n in range(45, 50))]

    def test_no_budget_column_when_no_dependency_has_an_slo(self, viewer) -> None:
        declare("plain", slo=None)
        page = viewer.get("/").content.decode()
        assert "Error budget" not in page
        assert 'class="num budget' not in page

    def test_a_bad_sort_is_a_400(self, viewer) -> None:
        response = viewer.get("/?sort=name")
        assert response.status_code == 400
        assert "sort: Select a valid choice" in response.content.decode()

    @pytest.mark.parametrize("headers", [{}, HTMX])
    def test_sorting_costs_the_same_queries_however_many_dependencies(
        self, viewer, headers
    ) -> None:
        def queries_with(count: int) -> int:
            for n in range(count):
                declare(f"dep-{count}-{n}", slo=DAILY_99 if n % 2 else None, group=f"g{n % 3}")
            error_budgets.refresh()
            maintenance_reader.forget()  # each reads the windows in effect afresh
            live_state.forget()  # and renders the live part, not shares the last render
            with CaptureQueriesContext(connection) as captured:
                assert viewer.get("/?sort=budget", **headers).status_code == 200
            return len(captured)

        assert queries_with(5) == queries_with(60)
