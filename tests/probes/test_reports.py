"""The monthly report (issue 14, point 4): a month's figures from the hour rollups that real
recording wrote (tests/probes/simulation.py), checked against a count made here, on its
own, from the raw results; across the month boundary of Europe/Berlin, a maintenance window
and a stopped prober inside. And `manage.py slo_report` in its three formats."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from probes import reports
from probes.models import Dependency, Incident, MaintenanceWindow, ProbeResult, WindowSource
from probes.reports import BadMonth, Month
from tests.conftest import load_settings
from tests.factories import make_dependency
from tests.probes import simulation

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
OCTOBER, NOVEMBER = Month(2026, 10), Month(2026, 11)
# November begins in Berlin at midnight CET: 23:00 UTC on 31 October.
BOUNDARY = datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
SINCE, UNTIL = BOUNDARY - timedelta(hours=1), BOUNDARY + timedelta(hours=2)
INTERVAL = timedelta(seconds=60)
MINUTE = 60.0


def at(minutes: float) -> datetime:
    """Minutes from the boundary."""
    return BOUNDARY + timedelta(minutes=minutes)


# When db's peer refuses connections: one outage in October, one across the boundary, one
# that runs into a maintenance window, and a short one.
OUTAGES = [(at(-40), at(-33)), (at(-10), at(10)), (at(70), at(85)), (at(110), at(111))]
MAINTENANCE = (at(75), at(105))
STOPPED = (at(30), at(50))


def peer_up(name: str, moment: datetime) -> bool:
    return name != "db" or not any(start <= moment < end for start, end in OUTAGES)


@pytest.fixture
def probed(settings) -> dict[str, Dependency]:
    """db (SLO 75%) and cache (no SLO), probed every minute from an hour before the
    boundary to two after. With one failure opening the breaker and its trial due one
    interval later, each check's result is the status it starts: a failure is down, a
    success up (no degraded: no failures below a threshold), which the count below needs."""
    settings.SEAHEALTH_REPORT_TIMEZONE = "Europe/Berlin"
    breaker = {"failure_threshold": 1, "recovery_timeout": INTERVAL, "success_threshold": 1}
    rows = {
        "db": make_dependency(
            "db",
            interval=INTERVAL,
            next_due_at=SINCE,
            slo={"objective": 0.75, "window": 30 * 86400.0, "min_checks": 3},
            **breaker,
        ),
        "cache": make_dependency("cache", interval=INTERVAL, next_due_at=SINCE, **breaker),
    }
    MaintenanceWindow.objects.create(
        name="db-upgrade",
        source=WindowSource.API,
        match={"name": ["db"]},
        start=MAINTENANCE[0],
        end=MAINTENANCE[1],
    )
    simulation.run(peer_up, SINCE, UNTIL, stopped=[STOPPED])
    return rows


def counted(row: Dependency, start: datetime, end: datetime, now: datetime) -> dict[str, float]:
    """The month's seconds and incidents counted from the raw results alone: each check's
    status holds until the next check, or for two intervals (one past when the next was
    due) if none came; maintenance takes its window's time; incidents run from a failure
    after a success (or the first check) to the next success."""
    results = list(
        ProbeResult.objects.filter(dependency=row)
        .order_by("checked_at")
        .values_list("checked_at", "result")
    )
    seconds = {"up": 0.0, "down": 0.0, "maintenance": 0.0}
    cap = 2 * row.interval
    windows = [MAINTENANCE] if row.name == "db" else []

    def add(category: str, begin: datetime, finish: datetime) -> None:
        begin, finish = max(begin, start), min(finish, end)
        if finish > begin:
            seconds[category] += (finish - begin).total_seconds()

    for (at, result), following in zip(results, [*results[1:], (now, None)], strict=True):
        held = min(following[0], at + cap, now)
        status = "up" if result == "success" else "down"
        moment = at
        for window_start, window_end in windows:
            if window_start < held and window_end > moment:
                add(status, moment, max(moment, window_start))
                add("maintenance", max(moment, window_start), min(held, window_end))
                moment = min(held, window_end)
        add(status, moment, held)

    incidents, began, previous = [], None, None
    for at, result in results:
        if result == "failure" and previous != "failure":
            began = at
        if result == "success" and began is not None:
            incidents.append((began, at))
            began = None
        previous = result
    if began is not None:
        incidents.append((began, now))
    inside = [
        (min(finish, end) - max(begin, start)).total_seconds()
        for begin, finish in incidents
        if begin < end and finish > start
    ]
    return {
        **seconds,
        "incidents": len(inside),
        "longest": max(inside, default=0.0),
        "incident_seconds": sum(inside),
    }


def by_name(month: Month) -> dict[str, reports.MonthFigures]:
    return {figures.dependency: figures for figures in reports.compute(month, BERLIN, now=UNTIL)}


def test_a_months_report_matches_a_count_from_the_raw_results(probed) -> None:
    for month in (OCTOBER, NOVEMBER):
        start, end = month.span(BERLIN)
        with CaptureQueriesContext(connection) as queries:
            found = by_name(month)
        # The rows, the hour rollups, the incidents; while the month lasts, the maintenance
        # windows for the time since the last checks (the reader's tokens and windows).
        assert len(queries) <= 6
        assert set(found) == {"db", "cache"}
        for name, row in probed.items():
            figures, expected = found[name], counted(row, start, min(end, UNTIL), UNTIL)
            assert figures.up_seconds == pytest.approx(expected["up"])
            assert figures.degraded_seconds == 0
            assert figures.down_seconds == pytest.approx(expected["down"])
            assert figures.maintenance_seconds == pytest.approx(expected["maintenance"])
            assert figures.availability == pytest.approx(
                expected["up"] / (expected["up"] + expected["down"])
            )
            assert figures.incidents == expected["incidents"]
            assert figures.longest_incident == pytest.approx(expected["longest"])
            assert figures.incident_seconds == pytest.approx(expected["incident_seconds"])
    # What the months were measured from: the incidents recording opened, one per outage.
    assert Incident.objects.filter(dependency=probed["db"]).count() == len(OUTAGES)


def test_the_boundary_splits_the_time_and_the_incident_across_it(probed) -> None:
    """The figures as the outages make them. Checks keep a random phase within the minute
    (the scheduler's jitter, drawn afresh after the stop), so each outage's edges, as
    checks see them, lie up to one interval after its own: hence `abs=MINUTE`."""
    october, november = by_name(OCTOBER)["db"], by_name(NOVEMBER)["db"]
    # October, from 1 October 00:00 CEST to 31 October 24:00 CET: 745 hours; the last one
    # measured, down 7 min and the 10 min of the second outage before the boundary.
    assert (october.start, october.end) == (datetime(2026, 9, 30, 22, tzinfo=UTC), BOUNDARY)
    assert october.elapsed == 745 * 3600
    assert october.known_seconds == pytest.approx(60 * MINUTE)
    assert october.down_seconds == pytest.approx(17 * MINUTE, abs=MINUTE)
    assert october.incidents == 2
    assert october.longest_incident == pytest.approx(10 * MINUTE, abs=MINUTE)
    assert october.met is False  # 1 - 17/60 = 72% against 75%
    assert october.budget_used == pytest.approx((17 / 60) / 0.25, abs=0.1)
    assert october.partly_measured
    # November so far, two hours: the second outage's other 10 min, 5 min before the window,
    # 1 min; the window's 30 min left out; 19 min unknown (stopped at 30 min, the last
    # check's status held one interval past when the next was due).
    assert (november.start, november.end) == (BOUNDARY, UNTIL)
    assert november.maintenance_seconds == pytest.approx(30 * MINUTE)
    assert november.unknown_seconds == pytest.approx(19 * MINUTE, abs=MINUTE)
    assert november.down_seconds == pytest.approx(16 * MINUTE, abs=MINUTE)
    assert november.known_seconds == pytest.approx((120 - 30 - 19) * MINUTE, abs=MINUTE)
    assert november.met is True  # about 1 - 16/71 = 77%
    assert november.incidents == 3
    # The outage that ran into the window lasted 15 min, all of it its incident's.
    assert november.longest_incident == pytest.approx(15 * MINUTE)
    assert november.incident_seconds == pytest.approx((10 + 15 + 1) * MINUTE, abs=MINUTE)
    cache = by_name(NOVEMBER)["cache"]
    assert (cache.availability, cache.incidents) == (1.0, 0)
    assert (cache.objective, cache.met, cache.budget_used) == (None, None, None)


def test_archived_during_the_month_is_reported_archived_before_it_is_not() -> None:
    make_dependency("kept")
    make_dependency("gone-in-november", archived_at=BOUNDARY + timedelta(days=3))
    make_dependency("gone-in-october", archived_at=BOUNDARY - timedelta(days=3))
    found = reports.compute(NOVEMBER, BERLIN, now=datetime(2026, 12, 5, tzinfo=UTC))
    assert [(f.dependency, f.archived) for f in found] == [
        ("gone-in-november", True),
        ("kept", False),
    ]


def test_the_whole_report_takes_three_queries_however_many_dependencies() -> None:
    after = datetime(2026, 12, 5, tzinfo=UTC)
    for count in (2, 12):
        for number in range(Dependency.objects.count(), count):
            row = make_dependency(f"api-{number}")
            Incident.objects.create(dependency=row, started_at=at(number), ended_at=at(90))
        with CaptureQueriesContext(connection) as queries:
            found = reports.compute(NOVEMBER, BERLIN, now=after)
        assert len(found) == count
        assert found[-1].incidents == 1
        assert len(queries) == 3  # the rows, their hour rollups, their incidents


@pytest.mark.parametrize(
    ("zone", "month", "start", "end"),
    [
        ("UTC", Month(2026, 11), datetime(2026, 11, 1), datetime(2026, 12, 1)),
        # Summer time on 1 October, winter time on 1 November.
        ("Europe/Berlin", Month(2026, 10), datetime(2026, 9, 30, 22), datetime(2026, 10, 31, 23)),
        ("America/New_York", Month(2026, 3), datetime(2026, 3, 1, 5), datetime(2026, 4, 1, 4)),
        # +05:30: both ends move on to the next whole UTC hour, so months still tile.
        ("Asia/Kolkata", Month(2026, 11), datetime(2026, 10, 31, 19), datetime(2026, 11, 30, 19)),
        ("Asia/Kolkata", Month(2026, 12), datetime(2026, 11, 30, 19), datetime(2026, 12, 31, 19)),
        ("UTC", Month(2026, 12), datetime(2026, 12, 1), datetime(2027, 1, 1)),
    ],
)
def test_a_month_runs_midnight_to_midnight_in_its_zone_in_whole_hours(
    zone, month, start, end
) -> None:
    assert month.span(ZoneInfo(zone)) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-13", "a month is written YYYY-MM"),
        ("2026-1", "a month is written YYYY-MM"),
        ("November", "a month is written YYYY-MM"),
        ("2026-11-01", "a month is written YYYY-MM"),
        ("0001-01", "before 1970"),
        ("2026-12", "2026-12 has not begun yet (UTC): the latest is 2026-11"),
    ],
)
def test_a_bad_month_is_refused_saying_why(text, reason) -> None:
    with pytest.raises(BadMonth, match=re.escape(reason)):
        reports.read_month(text, ZoneInfo("UTC"), NOW)


def test_a_month_begun_in_the_zone_but_not_in_utc_is_read() -> None:
    # 23:30 UTC on 30 November is 00:30 on 1 December in Berlin.
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert reports.read_month("2026-12", BERLIN, late) == Month(2026, 12)
    assert reports.last_whole_month(BERLIN, late) == Month(2026, 11)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (42.9, "42 s"), (90, "1 min 30 s"), (3 * 3600 + 300, "3 h 5 min"),
     (2 * 86400 + 300, "2 d"), (86400 + 7200, "1 d 2 h")],
)  # fmt: skip
def test_spans_read_in_their_two_largest_units(seconds, text) -> None:
    assert reports.spelled(seconds) == text


def test_a_bad_report_timezone_fails_at_start() -> None:
    result = load_settings(SEAHEALTH_REPORT_TIMEZONE="Mars/Olympus")
    assert result.returncode != 0
    assert "ImproperlyConfigured: SEAHEALTH_REPORT_TIMEZONE: 'Mars/Olympus'" in result.stderr
    good = load_settings("s.SEAHEALTH_REPORT_TIMEZONE", SEAHEALTH_REPORT_TIMEZONE="Asia/Kolkata")
    assert good.stdout.strip() == "Asia/Kolkata"


# --- manage.py slo_report -------------------------------------------------------------------


def report(*arguments: str) -> str:
    out = io.StringIO()
    with freeze_time(UNTIL):
        call_command("slo_report", *arguments, stdout=out)
    return out.getvalue()


def test_the_command_prints_a_month_as_a_table_csv_or_json(probed) -> None:
    db = by_name(OCTOBER)["db"]

    lines = report("--month", "2026-10").splitlines()
    assert lines[0] == "2026-10 (Europe/Berlin)"
    assert lines[1].split()[:3] == ["DEPENDENCY", "AVAILABILITY", "OBJECTIVE"]
    row = re.split(r"\s{2,}", next(line for line in lines if line.startswith("db")))
    budget = reports.percent_text(db.budget_used, 1)
    assert row[:5] == ["db *", reports.percent_text(db.availability), "75%", "missed", budget]
    assert float(budget[:-1]) > 100  # 28% down, against the 25% allowed
    assert "no SLO" in next(line for line in lines if line.startswith("cache"))
    assert lines[-1].startswith("* measured over less than 99% of the month")

    rows = list(csv.DictReader(io.StringIO(report("--month", "2026-10", "--format", "csv"))))
    assert [row["dependency"] for row in rows] == ["cache", "db"]
    assert tuple(rows[1]) == reports.RECORD_COLUMNS
    assert (rows[1]["month"], rows[1]["timezone"]) == ("2026-10", "Europe/Berlin")
    assert float(rows[1]["availability_percent"]) == pytest.approx(db.availability * 100)
    assert (rows[1]["objective_percent"], rows[1]["objective_met"]) == ("75.0", "False")
    assert float(rows[1]["down_seconds"]) == pytest.approx(db.down_seconds, abs=0.1)
    assert rows[1]["incidents"] == "2"
    assert rows[0]["objective_percent"] == rows[0]["objective_met"] == ""

    text = report("--month", "2026-11", "--format", "json", "--dependency", "db")
    (record,) = json.loads(text)
    assert record["dependency"] == "db"
    assert (record["start"], record["end"]) == ("2026-10-31T23:00:00Z", "2026-11-01T01:00:00Z")
    assert record["objective_met"] is True
    assert record["maintenance_seconds"] == pytest.approx(30 * MINUTE)
    assert (record["incidents"], record["longest_incident_seconds"]) == (3, 900)


def test_the_command_reports_the_last_whole_month_unless_told(settings) -> None:
    settings.SEAHEALTH_REPORT_TIMEZONE = "Europe/Berlin"
    make_dependency("api")
    # At 00:30 UTC on 1 November it is November in Berlin: the last whole month is October.
    with freeze_time(BOUNDARY + timedelta(minutes=30)):
        out = io.StringIO()
        call_command("slo_report", stdout=out)
    assert out.getvalue().splitlines()[0] == "2026-10 (Europe/Berlin)"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--month", "2026-13"], "--month: a month is written YYYY-MM, such as 2026-11"),
        (["--month", "2027-01"], "--month: 2027-01 has not begun yet (Europe/Berlin)"),
        (["--dependency", "nobody"], "--dependency: no dependency is named 'nobody'"),
    ],
)
def test_the_command_refuses_a_bad_month_or_name(settings, arguments, message) -> None:
    settings.SEAHEALTH_REPORT_TIMEZONE = "Europe/Berlin"
    with pytest.raises(CommandError, match=re.escape(message)):
        report(*arguments)
