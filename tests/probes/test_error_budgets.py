"""SLO figures and burn alerts from real scheduling and recording in frozen time
(tests/probes/simulation.py): the workbook's multiwindow rule, and the sample guard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from probes import error_budgets, maintenance_reader
from probes.error_budgets import BURN_WINDOWS, figures
from probes.models import Dependency
from probes.rollups import Tally
from probes.slo import Slo
from tests.factories import T0, make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

SLO = {"objective": 0.999, "window": 30 * 86400.0, "min_checks": 3}
MINUTE = timedelta(minutes=1)


def payments(**fields) -> Dependency:
    """Probed every 30 s; one failure opens its breaker, tried again 30 s later."""
    values = {
        "interval": timedelta(seconds=30),
        "failure_threshold": 1,
        "recovery_timeout": timedelta(seconds=30),
        "slo": SLO,
    } | fields
    return make_dependency("payments", **values)


def down_during(*spans: tuple[timedelta, timedelta]):
    """payments' peer down during each (start, end) after T0; every other peer up."""

    def up(name, at) -> bool:
        down = any(T0 + start <= at < T0 + end for start, end in spans)
        return name != "payments" or not down

    return up


def refreshed(until) -> dict:
    error_budgets.refresh(until)
    return Dependency.objects.get(name="payments").slo_figures


def test_a_burn_over_14_4_on_both_1h_and_5m_pages() -> None:
    payments()
    # Up for an hour, then down for the last five minutes.
    until = T0 + 65 * MINUTE
    simulation.run(down_during((60 * MINUTE, 65 * MINUTE)), T0, until)
    stored = refreshed(until)
    assert stored["burn"]["5m"] > 900  # all of it down: 1,000x a 0.1% budget
    assert stored["burn"]["1h"] == pytest.approx(300 / 3600 / 0.001, rel=0.1)
    assert stored["alert"] == "page"
    assert stored["rule"] in ("1h and 5m over 14.4", "6h and 30m over 6")
    assert stored["availability"] == pytest.approx(60 / 65, abs=0.01)
    # Five minutes down of a 30-day budget of 43.2 minutes.
    assert stored["remaining_minutes"] == pytest.approx(43.2 - 5, abs=0.6)
    assert stored["remaining"] == pytest.approx(stored["remaining_minutes"] / 43.2)


def test_a_burn_over_14_4_on_5m_alone_does_not_page() -> None:
    payments()
    # Up for three hours, then down for 30 s of the last five minutes: 100x on 5m, but
    # under 14.4 on 1h (30 s of an hour is 8.3x) and under 6 on 6h.
    until = T0 + 180 * MINUTE
    simulation.run(down_during((176 * MINUTE, 176.5 * MINUTE)), T0, until)
    stored = refreshed(until)
    assert stored["burn"]["5m"] > 14.4
    assert stored["burn"]["1h"] < 14.4
    assert stored["burn"]["6h"] < 6
    assert stored["alert"] != "page"


def test_a_slow_burn_over_the_long_windows_is_a_ticket() -> None:
    payments(interval=MINUTE, recovery_timeout=MINUTE)
    # Down a minute at 1 h and at 3.5 h; read 6 h in: nothing in the last hour, 2 minutes of
    # 6 hours (5.6x) over the 6h and 3d windows.
    until = T0 + 6 * 60 * MINUTE
    simulation.run(down_during((60 * MINUTE, 61 * MINUTE), (210 * MINUTE, 211 * MINUTE)), T0, until)
    stored = refreshed(until)
    assert stored["burn"]["5m"] == 0
    assert stored["burn"]["1h"] == 0
    assert 1 < stored["burn"]["6h"] < 14.4
    assert stored["alert"] == "ticket"
    assert stored["rule"] == "3d and 6h over 1"


def test_a_window_with_fewer_checks_than_min_checks_has_no_burn_rate() -> None:
    # Probed every 150 s: five minutes hold two checks, under the 3 the SLO asks.
    payments(interval=timedelta(seconds=150), recovery_timeout=timedelta(seconds=150))
    until = T0 + 70 * MINUTE
    simulation.run(down_during((55 * MINUTE, 70 * MINUTE)), T0, until)
    stored = refreshed(until)
    assert stored["checks"]["5m"] < 3
    assert stored["burn"]["5m"] is None
    assert stored["burn"]["1h"] > 14.4  # an hour is judged, but cannot page alone
    assert stored["rule"] != "1h and 5m over 14.4"


@pytest.mark.parametrize(("count", "judged"), [(2, False), (3, True)])
def test_the_guard_is_the_number_of_checks_in_the_window(count: int, judged: bool) -> None:
    slo = Slo(objective=0.999, min_checks=3)
    window = Tally(count=count, up_seconds=290, down_seconds=10)
    found = figures(slo, Tally(), dict.fromkeys(BURN_WINDOWS, window))
    expected = pytest.approx(10 / 300 / 0.001) if judged else None
    assert found.burn["5m"] == expected
    assert found.alert == ("page" if judged else "")


def test_a_refresh_says_whose_alert_changed_once() -> None:
    row = payments()
    calm = make_dependency("calm", slo=SLO, interval=timedelta(minutes=5))
    none = make_dependency("no-slo", interval=timedelta(minutes=5))
    until = T0 + 65 * MINUTE
    simulation.run(down_during((60 * MINUTE, 65 * MINUTE)), T0, until)
    [change] = error_budgets.refresh(until)
    assert (change.dependency.id, change.previous, change.current) == (row.id, "", "page")
    assert error_budgets.refresh(until) == []  # stored: nothing changed
    assert Dependency.objects.get(pk=none.pk).slo_figures == {}
    assert Dependency.objects.get(pk=calm.pk).slo_figures["alert"] == ""
    # Recovered for an hour and a half: the short pairs are clear again, and five minutes
    # of three hours still burn over 1 on 6h and 3d.
    later = until + 90 * MINUTE
    simulation.run(down_during(), until, later)
    [fell] = error_budgets.refresh(later)
    assert (fell.previous, fell.current) == ("page", "ticket")


def test_the_same_queries_for_any_number_of_slos_and_windows() -> None:
    for n in range(6):
        make_dependency(f"dep-{n}", slo=SLO | {"window": (n + 1) * 86400.0})
    until = T0 + 10 * MINUTE
    simulation.run(lambda name, at: True, T0, until)

    def queries(rows: list[Dependency]) -> int:
        maintenance_reader.forget()  # each reads the windows in effect: the same queries
        with CaptureQueriesContext(connection) as captured:
            assert len(error_budgets.compute(rows, until)) == len(rows)
        return len(captured)

    rows = list(Dependency.objects.order_by("name"))
    assert queries(rows[:1]) == queries(rows[1:])


def test_the_budget_over_time_falls_as_the_outage_spends_it() -> None:
    row = payments()
    until = T0 + 120 * MINUTE
    simulation.run(down_during((30 * MINUTE, 31 * MINUTE)), T0, until)
    points = error_budgets.budget_over_time(Dependency.objects.get(pk=row.pk), until)
    values = [value for _, value in points]
    assert values == sorted(values, reverse=True)
    assert values[0] < 1
    assert values[-1] == values[0]


@pytest.mark.parametrize("how", ["slo removed", "archived"])
def test_an_alert_in_force_is_cleared_when_its_slo_goes(how: str) -> None:
    row = payments()
    until = T0 + 65 * MINUTE
    simulation.run(down_during((60 * MINUTE, 65 * MINUTE)), T0, until)
    assert [c.current for c in error_budgets.refresh(until)] == ["page"]
    if how == "archived":
        Dependency.objects.filter(pk=row.pk).update(archived_at=until)
    else:
        Dependency.objects.filter(pk=row.pk).update(slo=None)
    [cleared] = error_budgets.refresh(until)
    assert (cleared.previous, cleared.current, cleared.figures.alert) == ("page", "", "")
    assert Dependency.objects.get(pk=row.pk).slo_figures == {}
    assert error_budgets.refresh(until) == []
