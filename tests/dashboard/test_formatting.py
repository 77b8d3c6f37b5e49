from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from dashboard.formatting import NO_VALUE, badge, ms, percent, relative, when

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
        '<time datetime="2026-11-23T09:57:00Z" title="2026-11-23 09:57:00 UTC">3 min ago</time>'
    )
    assert when(None) == "never"


@pytest.mark.parametrize(
    ("share", "text"),
    [(None, NO_VALUE), (1.0, "100%"), (0.99996, "99.99%"), (0.995, "99.50%"), (0.0, "0.00%")],
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
