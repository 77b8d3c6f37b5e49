from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.charts import _nice_ceiling, check_bar, latency_chart, sparkline
from probes.outcomes import ErrorClass, Outcome
from probes.rollups import Tally

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def tally(*latencies: float | None) -> Tally:
    result = Tally()
    for latency in latencies:
        if latency is None:
            result.add(Outcome(error_class=ErrorClass.CONNECT, detail="refused"))
        else:
            result.add(Outcome(latency_ms=latency))
    return result


def test_a_sparkline_plots_the_checks_that_answered() -> None:
    svg = sparkline([[0, "s", 10.0], [1, "f", None], [2, "s", 40.0], [3, "d", 20.0]])
    points = re.search(r'points="([^"]+)"', svg)[1].split()
    assert len(points) == 3  # the failure has no latency
    assert points[1].endswith(",20")  # the slowest at the top (of a 240-high box)


@pytest.mark.parametrize("recent", [[], [[0, "s", 10.0]]])
def test_a_sparkline_needs_two_points(recent) -> None:
    assert "polyline" not in sparkline(recent)


def test_the_check_bar_draws_a_cell_per_check_from_the_left_oldest_first() -> None:
    t = int(T0.timestamp())
    svg = check_bar([[t, "s", 1.0], [t + 30, "s", 1.0], [t + 60, "f", None]])
    assert 'aria-label="last 3 checks: 2 passed, 0 degraded, 1 failed"' in svg
    # Three cells 3 px wide, 1 px apart: the bar is as long as its history.
    assert '<svg class="checks" width="11" height="14" viewBox="0 0 11 14"' in svg
    assert (
        '<g class="ok"><title>2 passed, 2026-11-23 10:00:00 to 10:00:30 UTC</title>'
        '<path d="M0 6h3v8h-3zM4 6h3v8h-3z"/></g>'
    ) in svg
    # A failure stands full height: the bar reads without its colours too.
    assert (
        '<g class="fail"><title>failed at 2026-11-23 10:01:00 UTC</title>'
        '<path d="M8 0h3v14h-3z"/></g>'
    ) in svg
    assert 'class="warn"' not in svg


def test_each_run_of_one_result_has_its_own_title() -> None:
    t = int(T0.timestamp())
    results = "ssdsff"
    svg = check_bar([[t + 60 * i, result, None] for i, result in enumerate(results)])
    titles = re.findall(r'<g class="(\w+)"><title>([^<]+)</title>', svg)
    assert titles == [
        ("ok", "2 passed, 2026-11-23 10:00:00 to 10:01:00 UTC"),
        ("warn", "degraded at 2026-11-23 10:02:00 UTC"),
        ("ok", "passed at 2026-11-23 10:03:00 UTC"),
        ("fail", "2 failed, 2026-11-23 10:04:00 to 10:05:00 UTC"),
    ]


def test_a_run_over_midnight_dates_its_end() -> None:
    t = int(datetime(2026, 11, 23, 23, 59, 30, tzinfo=UTC).timestamp())
    svg = check_bar([[t, "s", 1.0], [t + 60, "s", 1.0]])
    assert "2 passed, 2026-11-23 23:59:30 to 2026-11-24 00:00:30 UTC" in svg


def test_no_checks_draw_an_empty_bar_that_says_so() -> None:
    svg = check_bar([])
    assert 'width="0"' in svg
    assert 'aria-label="no checks yet"' in svg
    assert "<g " not in svg


def test_the_check_bar_keeps_the_last_forty_checks() -> None:
    svg = check_bar([[n, "f", None] for n in range(10)] + [[n, "s", 1.0] for n in range(40)])
    assert 'aria-label="last 40 checks: 40 passed, 0 degraded, 0 failed"' in svg
    assert 'width="159"' in svg


def test_the_sparkline_puts_each_point_above_its_cell_of_the_bar() -> None:
    short = sparkline([[0, "s", 10.0], [1, "s", 10.0]])
    full = sparkline([[n, "s", 10.0] for n in range(40)])
    first, second = re.search(r'points="([^"]+)"', short)[1].split()
    assert re.search(r'points="([^"]+)"', full)[1].split()[:2] == [first, second]
    # The bar's first cell spans 0-3 of 160 px: the point sits over its middle.
    assert int(first.split(",")[0]) == pytest.approx(1.5 / 160 * 1000, abs=1)


def test_the_latency_chart_draws_percentiles_band_and_failures() -> None:
    points = [
        (T0 + timedelta(minutes=i), tally(20, 30, 400) if i != 3 else tally(None, 50))
        for i in range(6)
    ]
    svg = latency_chart(points, "1h")
    assert svg.count('class="p50"') == 1
    assert svg.count('class="p95"') == 1
    assert svg.count('class="band"') == 1
    assert "1 of 2 checks failed" in svg


def test_the_time_axis_carries_dates_and_its_zone() -> None:
    points = [(T0 + timedelta(hours=4 * i), tally(20)) for i in range(12)]  # over midnight
    svg = latency_chart(points, "30d")
    labels = re.findall(r'<text class="axis" x="[\d.]+" y="210" text-anchor="\w+">([^<]+)<', svg)
    assert labels == ["Nov 23 10:00", "Nov 24 10:00", "Nov 25 06:00 UTC"]


def test_every_point_carries_its_time_and_figures_for_hover() -> None:
    points = [
        (T0, tally(20, 30, 400)),
        (T0 + timedelta(minutes=10), tally(None, 50)),
        (T0 + timedelta(minutes=20), tally(None)),
        (T0 + timedelta(minutes=30), Tally()),
    ]
    svg = latency_chart(points, "24h")
    titles = re.findall(r'<rect class="point"[^>]*><title>([^<]+)</title></rect>', svg)
    assert titles == [
        "Nov 23 10:00 UTC: p50 38 ms, p95 400 ms, 3 checks",
        "Nov 23 10:10 UTC: p50 50 ms, p95 50 ms, 1 of 2 checks failed",
        "Nov 23 10:20 UTC: 1 of 1 checks failed",
        "Nov 23 10:30 UTC: no checks",
    ]
    # The columns tile the plot, each centred on its point, none past its edges.
    columns = [
        (float(x), float(width))
        for x, width in re.findall(r'<rect class="point" x="([\d.]+)" y="10" width="([\d.]+)"', svg)
    ]
    assert columns[0][0] == 52
    assert sum(width for _, width in columns) == pytest.approx(760 - 52 - 8, abs=0.5)


def test_the_latency_chart_breaks_its_lines_where_nothing_answered() -> None:
    points = [
        (T0 + timedelta(minutes=i), tally(20) if i in (0, 1, 4) else Tally()) for i in range(6)
    ]
    svg = latency_chart(points, "1h")
    assert svg.count('<polyline class="p50"') == 1  # 0-1
    assert svg.count('<circle class="p50"') == 1  # 4, alone


def test_an_empty_window_says_so() -> None:
    svg = latency_chart([(T0, Tally())], "24h")
    assert "no answered checks in this window" in svg


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 10), (0.7, 1), (43, 50), (120, 200), (4999, 5000), (5001, 10000)]
)
def test_the_y_axis_ends_on_a_round_number(value, ceiling) -> None:
    assert _nice_ceiling(value) == ceiling
