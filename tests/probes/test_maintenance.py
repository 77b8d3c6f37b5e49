"""Maintenance windows' occurrences: RRULEs in their zone's wall time, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from probes.maintenance import Active, Window, active, next_boundary, parse_rrule

SUNDAY_2AM = "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=0"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def weekly(zone: str, rule: str = SUNDAY_2AM, hours: float = 1) -> Window:
    return Window(
        "backup", {"name": ["db"]}, rrule=rule, duration=timedelta(hours=hours), timezone=zone
    )


# Each Sunday around the two DST weekends of 2026, in UTC: the window follows the wall clock.
@pytest.mark.parametrize(
    ("zone", "day", "start", "end"),
    [
        # Berlin: CET (+1) until 29 March, CEST (+2) until 25 October.
        ("Europe/Berlin", (2026, 3, 22), utc(2026, 3, 22, 1), utc(2026, 3, 22, 2)),
        # 02:00 does not exist on 29 March: the window starts when the clock jumps, 03:00 CEST.
        ("Europe/Berlin", (2026, 3, 29), utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),
        ("Europe/Berlin", (2026, 4, 5), utc(2026, 4, 5, 0), utc(2026, 4, 5, 1)),
        ("Europe/Berlin", (2026, 10, 18), utc(2026, 10, 18, 0), utc(2026, 10, 18, 1)),
        # 02:00 happens twice on 25 October: the first, CEST; an hour of real time long.
        ("Europe/Berlin", (2026, 10, 25), utc(2026, 10, 25, 0), utc(2026, 10, 25, 1)),
        ("Europe/Berlin", (2026, 11, 1), utc(2026, 11, 1, 1), utc(2026, 11, 1, 2)),
        # New York: EST (-5) until 8 March, EDT (-4) until 1 November.
        ("America/New_York", (2026, 3, 1), utc(2026, 3, 1, 7), utc(2026, 3, 1, 8)),
        # 02:00 does not exist on 8 March: 03:00 EDT.
        ("America/New_York", (2026, 3, 8), utc(2026, 3, 8, 7), utc(2026, 3, 8, 8)),
        ("America/New_York", (2026, 3, 15), utc(2026, 3, 15, 6), utc(2026, 3, 15, 7)),
        ("America/New_York", (2026, 10, 25), utc(2026, 10, 25, 6), utc(2026, 10, 25, 7)),
        # On 1 November 02:00 EST comes after the repeated hour: once, at 07:00 UTC.
        ("America/New_York", (2026, 11, 1), utc(2026, 11, 1, 7), utc(2026, 11, 1, 8)),
    ],
)
def test_a_weekly_window_keeps_its_wall_time_across_dst(
    zone: str, day: tuple[int, int, int], start: datetime, end: datetime
) -> None:
    day_start = utc(*day)
    found = weekly(zone).occurrences(day_start - timedelta(hours=12), day_start + timedelta(days=1))
    assert found == [(start, end)]


@pytest.mark.parametrize(
    ("zone", "rule", "hours", "day", "start", "end"),
    [
        # 01:30 New York on 1 November is the repeated hour: its first pass (EDT).
        (
            "America/New_York",
            "FREQ=DAILY;BYHOUR=1;BYMINUTE=30",
            1,
            (2026, 11, 1),
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 6, 30),
        ),
        # 02:30 Berlin on 29 March is skipped: it starts at 03:30 CEST.
        (
            "Europe/Berlin",
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
            1,
            (2026, 3, 29),
            utc(2026, 3, 29, 1, 30),
            utc(2026, 3, 29, 2, 30),
        ),
        # A window across the change lasts its real duration: 3h from 01:00 CET is 05:00 CEST.
        (
            "Europe/Berlin",
            "FREQ=DAILY;BYHOUR=1;BYMINUTE=0",
            3,
            (2026, 3, 29),
            utc(2026, 3, 29, 0),
            utc(2026, 3, 29, 3),
        ),
    ],
)
def test_times_in_the_changed_hours(
    zone: str,
    rule: str,
    hours: float,
    day: tuple[int, int, int],
    start: datetime,
    end: datetime,
) -> None:
    day_start = utc(*day)
    window = weekly(zone, rule, hours)
    assert window.occurrences(day_start - timedelta(hours=1), day_start + timedelta(hours=20)) == [
        (start, end)
    ]


def test_every_other_week_keeps_its_phase_whenever_it_is_asked() -> None:
    window = weekly("UTC", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;BYHOUR=3")
    starts = [s for s, _ in window.occurrences(utc(2026, 1, 1), utc(2026, 2, 1))]
    later = [s for s, _ in window.occurrences(utc(2026, 1, 14), utc(2026, 2, 1))]
    # Counted from Monday 1 Jan 2018: 5 Jan 2026 is 418 weeks later (even), 12 Jan 419.
    assert [s.day for s in starts] == [5, 19]
    assert later == starts[1:]


# (moment, window in effect and until): start included, end not.
NIGHT = Window(
    "upgrade", {"group": ["payments"]}, start=utc(2026, 12, 5, 2), end=utc(2026, 12, 5, 3)
)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (utc(2026, 12, 5, 1, 59, 59), None),
        (utc(2026, 12, 5, 2), Active("upgrade", utc(2026, 12, 5, 3))),
        (utc(2026, 12, 5, 2, 59, 59), Active("upgrade", utc(2026, 12, 5, 3))),
        (utc(2026, 12, 5, 3), None),
    ],
)
def test_a_one_off_window_is_active_from_its_start_until_its_end(
    moment: datetime, expected: Active | None
) -> None:
    assert active(
        [NIGHT], SimpleNamespace(name="pay", group="payments", critical=False), moment
    ) == (expected)


@pytest.mark.parametrize(
    ("match", "dependency", "applies"),
    [
        ({"group": ["payments"]}, {"name": "a", "group": "payments", "critical": False}, True),
        ({"group": ["payments"]}, {"name": "a", "group": "", "critical": False}, False),
        ({"name": ["a", "b"]}, {"name": "b", "group": "", "critical": True}, True),
        ({"critical": True}, {"name": "c", "group": "", "critical": False}, False),
        ({"critical": True, "group": ["x"]}, {"name": "c", "group": "x", "critical": True}, True),
        ({"critical": True, "group": ["x"]}, {"name": "c", "group": "y", "critical": True}, False),
    ],
)
def test_a_window_applies_to_what_its_match_names(
    match: dict, dependency: dict, applies: bool
) -> None:
    window = Window("w", match, start=utc(2026, 1, 1), end=utc(2026, 1, 2))
    assert (active([window], dependency, utc(2026, 1, 1, 12)) is not None) is applies


def test_overlapping_windows_report_the_one_ending_last() -> None:
    short = Window("short", {"name": ["a"]}, start=utc(2026, 1, 1), end=utc(2026, 1, 1, 1))
    long = Window("long", {"name": ["a"]}, start=utc(2026, 1, 1), end=utc(2026, 1, 1, 5))
    found = active([short, long], {"name": "a", "group": "", "critical": False}, utc(2026, 1, 1))
    assert found == Active("long", utc(2026, 1, 1, 5))


@pytest.mark.parametrize(
    ("now", "boundary"),
    [
        (utc(2026, 12, 5, 1), utc(2026, 12, 5, 2)),  # the next start
        (utc(2026, 12, 5, 2, 30), utc(2026, 12, 5, 3)),  # the end of the one in effect
        (utc(2026, 12, 6), utc(2026, 12, 7)),  # nothing within a day: ask again in a day
    ],
)
def test_next_boundary_is_the_next_start_or_end(now: datetime, boundary: datetime) -> None:
    assert next_boundary([NIGHT], now) == boundary


@pytest.mark.parametrize(
    ("rule", "starts"),
    [
        # What a rule leaves out comes from the anchor: Monday, the 1st, January, midnight.
        ("FREQ=WEEKLY", [utc(2026, 1, 5), utc(2026, 1, 12)]),
        ("FREQ=MONTHLY;BYHOUR=4", [utc(2026, 1, 1, 4), utc(2026, 2, 1, 4)]),
        ("FREQ=YEARLY", [utc(2026, 1, 1), utc(2027, 1, 1)]),
        ("FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22", [utc(2026, 1, 3, 22), utc(2026, 2, 7, 22)]),
    ],
)
def test_what_a_rule_leaves_out_comes_from_the_anchor(rule: str, starts: list[datetime]) -> None:
    window = weekly("UTC", rule)
    found = window.occurrences(utc(2025, 12, 31, 23, 30), starts[-1] + timedelta(minutes=1))
    assert [start for start, _ in found] == starts


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("FREQ=HOURLY", "FREQ must be one of"),
        ("FREQ=DAILY;COUNT=3", "COUNT is not allowed"),
        ("FREQ=DAILY;BYHOUR=25", "not an RFC 5545 RRULE"),
        ("FREQ=WEEKLY;BYDAY=XX", "not an RFC 5545 RRULE"),
        ("FREQ=DAILY;UNTIL=20270101T000000Z", "UNTIL as a local time"),
        ("FREQ=DAILY;BYHOUR=2;BYHOUR=3", "given twice"),
        ("every sunday", "is not NAME=VALUE"),
    ],
)
def test_refuses_a_bad_rrule(rule: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_rrule(rule)
