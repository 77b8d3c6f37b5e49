"""Maintenance windows: when each occurs, and which are in effect for a dependency.

Pure functions of the windows and a moment. A recurring window's RRULE (RFC 5545) is
evaluated in its zone's wall time, then each start is placed on the UTC line by zoneinfo:
a start in the hour a spring change skips begins when the clock jumps over it (02:30 in
Berlin's skipped hour is 03:30 CEST), a start in the hour an autumn change repeats is its
first pass (PEP 495 fold=0). Its duration is real time: `1h` is an hour whatever the clock
does meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

# Every rule counts from here, in its zone's wall time: INTERVAL=2 keeps its phase whenever
# it is asked, and what a rule leaves out is taken from here: Monday, the 1st, January,
# 00:00. Rules more frequent than daily are refused (FREQUENCIES), so the few thousand steps
# from here to now stay cheap (and dateutil caches them).
ANCHOR = datetime(2018, 1, 1)
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# What a window's RRULE may hold. COUNT would count from ANCHOR, which nobody means; DTSTART
# is ANCHOR; BYSECOND is finer than maintenance is planned.
RRULE_PARTS = (
    "FREQ",
    "INTERVAL",
    "UNTIL",
    "WKST",
    "BYMONTH",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSETPOS",
)
# How far ahead next_boundary looks; past it, whoever caches asks again.
HORIZON = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """One maintenance window: one-off (start, end) or recurring (rrule, duration, zone)."""

    name: str
    # {"critical": bool, "group": [...], "name": [...]}: every field given must hold.
    match: Mapping[str, Any] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    rrule: str = ""
    duration: timedelta | None = None
    timezone: str = ""
    source: str = "declared"

    def occurrences(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) in UTC of each occurrence that overlaps [since, until), in order."""
        if not self.rrule:
            assert self.start is not None
            assert self.end is not None
            overlaps = self.start < until and self.end > since
            return [(self.start.astimezone(UTC), self.end.astimezone(UTC))] if overlaps else []
        assert self.duration is not None
        zone = ZoneInfo(self.timezone)
        # A day either side: whatever the offset, no local start near the span is missed.
        low = since.astimezone(zone).replace(tzinfo=None) - self.duration - timedelta(days=1)
        high = until.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
        found = []
        for local in parse_rrule(self.rrule).between(low, high, inc=True):
            start = local.replace(tzinfo=zone).astimezone(UTC)
            end = start + self.duration
            if start < until and end > since:
                found.append((start, end))
        return found

    def covering(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence `moment` falls in (start included, end not), the latest ending."""
        spans = self.occurrences(moment, moment + timedelta(microseconds=1))
        return max(spans, key=lambda span: span[1]) if spans else None

    def applies_to(self, dependency: Any) -> bool:
        """Whether the window's match holds for a dependency (a row, a spec, or alike)."""
        return matches(self.match, dependency)


@dataclass(frozen=True)
class Active:
    """A window in effect for a dependency now, and when it ends."""

    name: str
    until: datetime


def matches(match: Mapping[str, Any], dependency: Any) -> bool:
    if "critical" in match and _get(dependency, "critical") != match["critical"]:
        return False
    return all(_get(dependency, key) in match[key] for key in ("group", "name") if key in match)


def _get(dependency: Any, name: str) -> Any:
    return dependency[name] if isinstance(dependency, Mapping) else getattr(dependency, name)


def in_effect(windows: Iterable[Window], moment: datetime) -> list[tuple[Window, datetime]]:
    """The windows `moment` falls in, each with the end of its occurrence."""
    found = []
    for window in windows:
        span = window.covering(moment)
        if span is not None:
            found.append((window, span[1]))
    return found


def active_for(effective: Iterable[tuple[Window, datetime]], dependency: Any) -> Active | None:
    """Of the windows in effect (in_effect's), the one lasting longest that matches."""
    matching = [(until, w.name) for w, until in effective if w.applies_to(dependency)]
    if not matching:
        return None
    until, name = max(matching)
    return Active(name, until)


def active(windows: Iterable[Window], dependency: Any, now: datetime) -> Active | None:
    """The window `dependency` is in at `now`, and when it ends; None outside any."""
    return active_for(in_effect(windows, now), dependency)


def next_boundary(windows: Iterable[Window], now: datetime) -> datetime:
    """The next moment after `now` at which some window starts or ends; at most HORIZON
    ahead, so that a reader caching what is in effect asks again by then at the latest."""
    latest = now + HORIZON
    moments = [
        moment
        for window in windows
        for span in window.occurrences(now, latest)
        for moment in span
        if now < moment < latest
    ]
    return min(moments, default=latest)


@functools.lru_cache(maxsize=256)
def parse_rrule(text: str) -> rrule:
    """The rule in `text` (`FREQ=WEEKLY;BYDAY=SU;BYHOUR=2`); ValueError saying why not."""
    parts: dict[str, str] = {}
    for part in text.strip().removeprefix("RRULE:").split(";"):
        key, equals, value = part.partition("=")
        key = key.strip().upper()
        if not equals or not value.strip():
            raise ValueError(f"{part!r} is not NAME=VALUE")
        if key not in RRULE_PARTS:
            raise ValueError(f"{key} is not allowed here (allowed: {', '.join(RRULE_PARTS)})")
        if key in parts:
            raise ValueError(f"{key} is given twice")
        parts[key] = value.strip().upper()
    if parts.get("FREQ") not in FREQUENCIES:
        raise ValueError(f"FREQ must be one of {', '.join(FREQUENCIES)}")
    if parts.get("UNTIL", "").endswith("Z"):
        # Compared with wall times in the window's zone: a UTC one would be a second clock.
        raise ValueError("write UNTIL as a local time, without Z (the window's timezone)")
    try:
        rule = rrulestr(text.strip().removeprefix("RRULE:"), dtstart=ANCHOR, cache=True)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(f"not an RFC 5545 RRULE: {exc}") from exc
    if not isinstance(rule, rrule):
        raise ValueError("expected one RRULE")
    return rule


def zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone zoneinfo knows, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (such as Europe/Berlin, or UTC)"
    return None
