"""The `maintenance:` section of dependencies.yaml -> Windows, or its problems.

    maintenance:
      - name: payments-db-upgrade
        match: {group: payments}        # or {names: [a, b]}, or {critical: true}
        start: 2026-12-05T02:00:00Z
        end: 2026-12-05T03:00:00Z
      - name: weekly-backup
        match: {names: [documents]}
        schedule: {rrule: "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2", duration: 1h, timezone: Europe/Berlin}

A window that matches no dependency is refused: a typo there would leave the outage it was
meant for loud, or worse, a later one silent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from probes.excerpts import excerpt
from probes.fields import LONGEST_LIST, Fields, Problem
from probes.maintenance import Window, matches, parse_rrule, zone_problem

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
MATCHED = ("critical", "group", "names")


def parse_maintenance(
    section: Any, top: Fields, dependencies: Sequence[Any] | None
) -> list[Window]:
    """The windows of `section` (the raw list); problems go to `top`'s collector. The match
    is checked against `dependencies` when they were all read."""
    if section is None:
        return []
    if not isinstance(section, list):
        top.problem("maintenance", "expected a list of windows")
        return []
    if len(section) > LONGEST_LIST * 10:
        top.problem("maintenance", f"lists more than {LONGEST_LIST * 10} windows")
        return []
    windows, seen = [], set()
    for index, entry in enumerate(section, start=1):
        where = f"maintenance, window {index}"
        if not isinstance(entry, Mapping):
            top.problems.append(
                Problem(top.source, where, None, "expected a mapping of fields", top.line)
            )
            continue
        fields = Fields(entry, top.source, where, top.problems)
        window = _read_window(fields, dependencies)
        if window is not None and window.name in seen:
            fields.problem("name", f"'{window.name}' is already declared by another window")
        elif window is not None:
            seen.add(window.name)
            windows.append(window)
    return windows


def parse_window(
    data: Mapping[str, Any], dependencies: Sequence[Any], source: str
) -> tuple[Window | None, list[Problem]]:
    """One window from a mapping with a YAML window's fields (an API request's body): the
    window, or the problems, checked as the file's are."""
    problems: list[Problem] = []
    window = _read_window(Fields(data, source, "window", problems), dependencies)
    return window, problems


def _read_window(fields: Fields, dependencies: Sequence[Any] | None) -> Window | None:
    before = len(fields.problems)
    name = fields.string("name", pattern=NAME, pattern_help="is not a name (a-z, 0-9, - and _)")
    match = _read_match(fields.section("match"), dependencies)
    given = {key for key in ("start", "end", "schedule") if key in fields.data}
    window = None
    if "schedule" in given and given & {"start", "end"}:
        for key in given:
            fields.value(key, None)  # read: the one problem is that they are together
        fields.problem("schedule", "give either start and end, or a schedule, not both")
    elif "schedule" in given:
        window = _recurring(name, match, fields.section("schedule"))
    else:
        window = _one_off(name, match, fields)
    fields.reject_unread(("name", "match", "start", "end", "schedule"))
    return window if len(fields.problems) == before else None


def _one_off(name: str, match: dict[str, Any], fields: Fields) -> Window | None:
    start, end = _moment(fields, "start"), _moment(fields, "end")
    if start is None or end is None:
        return None
    if end <= start:
        fields.problem("end", f"must be after the start ({start.isoformat()})")
        return None
    return Window(name, match, start=start, end=end)


def _moment(fields: Fields, name: str) -> datetime | None:
    """A date and time with its offset: YAML reads `2026-12-05T02:00:00Z` as one."""
    value = fields.value(name)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            fields.problem(name, f"{excerpt(value)} is not a date and time (2026-12-05T02:00:00Z)")
            return None
    if value is None:
        return None
    if not isinstance(value, datetime):
        fields.problem(
            name, f"expected a date and time (2026-12-05T02:00:00Z), got {excerpt(value)}"
        )
        return None
    if value.tzinfo is None:
        # Naive would mean the server's zone, which nobody reading the file can see.
        fields.problem(name, "needs its offset: Z for UTC, or +01:00")
        return None
    return value


def _recurring(name: str, match: dict[str, Any], schedule: Fields | None) -> Window | None:
    if schedule is None:
        return None
    rule = schedule.string("rrule", longest=500)
    duration = schedule.duration("duration")
    zone = schedule.string("timezone", longest=100)
    schedule.reject_unread(("rrule", "duration", "timezone"))
    if isinstance(rule, str):
        try:
            parse_rrule(rule)
        except ValueError as exc:
            schedule.problem("rrule", str(exc))
            rule = None
    if isinstance(zone, str) and (problem := zone_problem(zone)):
        schedule.problem("timezone", problem)
        zone = None
    if not (isinstance(rule, str) and isinstance(duration, float) and isinstance(zone, str)):
        return None
    return Window(
        name, match, rrule=rule.strip(), duration=timedelta(seconds=duration), timezone=zone
    )


def _read_match(fields: Fields | None, dependencies: Sequence[Any] | None) -> dict[str, Any]:
    """`group` (one or a list), `names` (a list) and `critical`: every one given must hold."""
    if fields is None:
        return {}
    before = len(fields.problems)
    match: dict[str, Any] = {}
    critical = fields.boolean("critical", None)
    if critical is not None:
        match["critical"] = critical
    for key, stored in (("group", "group"), ("names", "name")):
        values = fields.names(key, most=LONGEST_LIST * 10)
        if values is not None:
            match[stored] = values
    fields.reject_unread(MATCHED)
    if len(fields.problems) > before:
        pass  # said: a window that matches nothing because of a typo needs no second problem
    elif not match:
        fields.problem(None, f"matches everything: name one of {', '.join(MATCHED)}")
    elif dependencies is not None and not any(matches(match, d) for d in dependencies):
        fields.problem(None, "matches no declared dependency")
    return match
