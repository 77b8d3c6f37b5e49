"""`/dependencies/<name>/report?month=2026-11`: one dependency's month, behind the login like
the dependency's page; a bad month is a 400 saying why, an unknown name a 404."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from probes import reports
from tests.factories import make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

# Tuesday 10 November 2026, 09:00 UTC.
SINCE = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
NOW = SINCE + timedelta(hours=1)
INTERVAL = timedelta(seconds=30)


def down_for_ten_minutes(name: str, at: datetime) -> bool:
    return not SINCE + timedelta(minutes=20) <= at < SINCE + timedelta(minutes=30)


@pytest.fixture
def probed():
    """payments: an SLO of 99%, probed every 30 s for an hour, down ten minutes of it."""
    row = make_dependency(
        "payments",
        interval=INTERVAL,
        next_due_at=SINCE,
        failure_threshold=1,
        recovery_timeout=INTERVAL,
        slo={"objective": 0.99, "window": 30 * 86400.0, "min_checks": 3},
    )
    simulation.run(down_for_ten_minutes, SINCE, NOW)
    return row


def get(client, path: str):
    with freeze_time(NOW):
        return client.get(path)


def test_the_month_so_far_is_shown_by_default(viewer, probed) -> None:
    page = get(viewer, "/dependencies/payments/report")
    assert page.status_code == 200
    text = page.content.decode()
    assert page.context["month"] == reports.Month(2026, 11)
    assert page.context["so_far"] is True
    lines = page.context["lines"]
    # Down 10 of the 60 minutes, give or take the checks' phase within their interval.
    assert 0.82 < page.context["figures"].availability < 0.85
    assert lines["objective"] == "99%"
    assert lines["objective met"] == "missed"
    assert lines["incidents"] == "1"
    assert f"<td>{lines['availability']}</td>" in text
    assert "the month so far" in text
    # The month before is linked; the one after has not begun.
    assert 'href="?month=2026-10"' in text
    assert "2026-12" not in text
    # Its incident, linked to its page.
    assert re.search(r'href="/incidents/\d+/"', text)


def test_a_past_month_links_both_ways_and_says_nothing_happened(viewer, probed) -> None:
    page = get(viewer, "/dependencies/payments/report?month=2026-10")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'href="?month=2026-09"' in text
    assert 'href="?month=2026-11"' in text
    assert page.context["figures"].availability is None
    assert page.context["lines"]["objective met"] == "-"
    assert "Not down in 2026-10." in text
    assert "Measured over 0 s of the 31 d" in text


def test_months_follow_the_report_timezone(viewer, probed, settings) -> None:
    settings.SEAHEALTH_REPORT_TIMEZONE = "Pacific/Kiritimati"  # UTC+14
    page = get(viewer, "/dependencies/payments/report?month=2026-11")
    assert page.context["figures"].start == datetime(2026, 10, 31, 10, tzinfo=UTC)
    assert "midnight to midnight in Pacific/Kiritimati" in page.content.decode()


@pytest.mark.parametrize(
    ("month", "reason"),
    [
        ("2026-13", "a month is written YYYY-MM, such as 2026-11"),
        ("november", "a month is written YYYY-MM, such as 2026-11"),
        ("2026-11" * 100, "a month is written YYYY-MM, such as 2026-11; got '2026-112026-11"),
        ("1969-12", "1969-12 is before 1970"),
        ("2026-12", "2026-12 has not begun yet (UTC): the latest is 2026-11"),
        ("9999-12", "9999-12 has not begun yet"),
    ],
)
def test_a_bad_month_is_a_400_saying_why(viewer, month, reason) -> None:
    make_dependency("payments")
    page = get(viewer, f"/dependencies/payments/report?month={month}")
    assert page.status_code == 400
    assert reason in page.content.decode()


@pytest.mark.parametrize(
    "path", ["/dependencies/nobody/report", "/dependencies/Not_A-Name!/report"]
)
def test_an_unknown_dependency_is_a_404(viewer, path) -> None:
    assert get(viewer, path).status_code == 404


def test_the_report_is_behind_the_login_like_the_dependency_page(client, settings) -> None:
    make_dependency("payments")
    page = get(client, "/dependencies/payments/report?month=2026-11")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")
    settings.SEAHEALTH_PUBLIC_DASHBOARD = True
    assert get(client, "/dependencies/payments/report?month=2026-11").status_code == 200


def test_an_archived_dependency_keeps_its_reports(viewer) -> None:
    make_dependency("old-api", archived_at=SINCE - timedelta(days=40))
    page = get(viewer, "/dependencies/old-api/report?month=2026-09")
    assert page.status_code == 200
    assert "no longer probed" in page.content.decode()


def test_the_dependency_page_links_to_its_report(viewer) -> None:
    make_dependency("payments")
    page = get(viewer, "/dependencies/payments/")
    assert 'href="/dependencies/payments/report"' in page.content.decode()
