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


def test_the_check_bar_draws_a_cell_per_check_newest_on_the_right() -> None:
    svg = check_bar([[0, "s", 1.0], [1, "s", 1.0], [2, "f", None]])
    assert 'aria-label="last 3 checks: 2 passed, 0 degraded, 1 failed"' in svg
    assert '<path class="ok" d="M111 0h2v14h-2zM114 0h2v14h-2z"/>' in svg
    assert '<path class="fail" d="M117 0h2v14h-2z"/>' in svg
    assert 'class="warn"' not in svg


def test_the_check_bar_keeps_the_last_forty_checks() -> None:
    svg = check_bar([[n, "f", None] for n in range(10)] + [[n, "s", 1.0] for n in range(40)])
    assert 'aria-label="last 40 checks: 40 passed, 0 degraded, 0 failed"' in svg


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
