from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from dashboard.formatting import (
    NO_VALUE,
    badge,
    burn_rate,
    duration,
    duration_changes_in,
    ms,
    percent,
    relative,
    uptime,
    when,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3, "just now"),
        (42, "42 s ago"),
        (180, "3 min ago"),
        (7200, "2 h ago"),
        (3 * 86400, "3 d ago"),
        (-3, "in a moment"),
        (-600, "in 10 min"),
    ],
)
def test_relative_times(seconds, text) -> None:
    assert relative(NOW - timedelta(seconds=seconds), NOW) == text


@freeze_time(NOW)
def test_when_gives_the_exact_utc_time_on_hover() -> None:
    assert when(NOW - timedelta(minutes=3)) == (
        '<time datetime="2026-11-23T09:57:00Z" title="2026-11-23 09:57:00 UTC"'
        " data-relative>3 min ago</time>"
    )
    assert when(None) == "never"


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (None, NO_VALUE),
        (1.0, "100%"),
        (0.9995, "99.95%"),
        (0.99996, "99.99%"),
        (0.995, "99.50%"),
        (0.0001, "0.01%"),
        (0.0, "0%"),
        (-0.00001, "-0.01%"),  # an overspent budget stays below zero
        (-0.5, "-50.00%"),
    ],
)
def test_percent_never_rounds_a_failure_away(share, text) -> None:
    assert percent(share) == text


@pytest.mark.parametrize(
    ("latency", "text"), [(None, NO_VALUE), (41.2, "41 ms"), (1234.0, "1.23 s")]
)
def test_ms(latency, text) -> None:
    assert ms(latency) == text


@pytest.mark.parametrize(
    ("status", "icon"), [("up", "✓"), ("degraded", "!"), ("down", "✕"), ("unknown", "?")]
)
def test_a_badge_says_the_status_in_words_with_an_icon(status, icon) -> None:
    icon_html = f'<span aria-hidden="true">{icon}</span>'
    assert badge(status) == f'<span class="status status-{status}">{icon_html} {status}</span>'


DAY = 86400.0


@pytest.mark.parametrize(
    ("share", "measured", "text"),
    [
        (0.992, 3 * 3600.0 + 59, "99.20% over 3 h of data"),
        (0.992, 0.99 * DAY, "99.20%"),  # measured nearly whole: nothing to say
        (0.992, 0.98 * DAY, "99.20% over 23 h of data"),
        (1.0, 600.0, "100% over 10 min of data"),
        (None, None, NO_VALUE),
        (None, 0.0, NO_VALUE),
        (0.5, None, "50.00%"),  # a row refreshed before coverage was stored
    ],
)
def test_an_uptime_says_over_how_much_data_when_its_window_was_not_measured_whole(
    share, measured, text
) -> None:
    assert uptime(share, measured, DAY) == text


TIMES = "\N{MULTIPLICATION SIGN}"


@pytest.mark.parametrize(
    ("rate", "text"), [(None, NO_VALUE), (0.0, f"0.00{TIMES}"), (14.4, f"14.40{TIMES}")]
)
def test_burn_rates(rate, text) -> None:
    assert burn_rate(rate) == text


@pytest.mark.parametrize(
    ("seconds", "changes_in"),
    [(0, 1), (40.25, 0.75), (60, 60), (185, 55), (3600, 3600), (7300, 3500), (90000, 82800)],
)
def test_a_duration_reads_differently_at_its_next_whole_unit(seconds, changes_in) -> None:
    assert duration_changes_in(timedelta(seconds=seconds)) == timedelta(seconds=changes_in)
    assert duration(timedelta(seconds=seconds)) != duration(timedelta(seconds=seconds + changes_in))
