"""Time in each status: what a check says of the time since the check before it.

A status holds from one check until the next, but not past one interval after the next
check was due: if the prober stopped, the rest is unknown, not up. While the breaker is open
the next check is its trial, so an open breaker is down for its whole open time. Time inside
a maintenance window is the window's, whatever the status. Recording adds these spans to the
rollups' seconds (rollups.add); readers add the span still open (since the last check).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from probes.breaker import State
from probes.maintenance import Window
from probes.statuses import Status

# The categories time is counted in; a bucket's length less their sum is unknown.
CATEGORIES = ("up", "degraded", "down", "maintenance")
MAINTENANCE = "maintenance"
# The row's columns since_last_check reads (a maintenance window's match reads the last three).
HOLDING_FIELDS = (
    "id",
    "last_checked_at",
    "status",
    "interval",
    "breaker_state",
    "breaker_opened_at",
    "recovery_timeout",
    "name",
    "group",
    "critical",
)


@dataclass(frozen=True)
class Span:
    category: str  # one of CATEGORIES
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def held_until(row: Any) -> datetime | None:
    """The latest moment the row's status holds without another check; None: it holds none."""
    if row.last_checked_at is None or row.status == Status.UNKNOWN:
        return None
    held = row.last_checked_at + 2 * row.interval
    if row.breaker_state == State.OPEN and row.breaker_opened_at is not None:
        held = max(held, row.breaker_opened_at + row.recovery_timeout + row.interval)
    return held


def since_last_check(row: Any, until: datetime, windows: MaintenanceSpans) -> list[Span]:
    """The time from the row's last check to `until` (as far as its status holds), in spans
    of its status and of the maintenance windows that apply to it."""
    held = held_until(row)
    if held is None:
        return []
    start, end = row.last_checked_at, min(until, held)
    if end <= start:
        return []
    spans, moment = [], start
    for window_start, window_end in windows.of(row, start, end):
        if window_start > moment:
            spans.append(Span(row.status, moment, window_start))
        spans.append(Span(MAINTENANCE, max(moment, window_start), window_end))
        moment = window_end
    if moment < end:
        spans.append(Span(row.status, moment, end))
    return spans


def clipped(spans: Iterable[Span], since: datetime) -> list[Span]:
    """The parts of `spans` from `since` on."""
    return [
        Span(span.category, max(span.start, since), span.end) for span in spans if span.end > since
    ]


class MaintenanceSpans:
    """The windows' occurrences over one stretch of time, computed once for many rows."""

    def __init__(self, windows: Iterable[Window], since: datetime, until: datetime) -> None:
        self.since, self.until = since, until
        self.occurring = [
            (window, spans) for window in windows if (spans := window.occurrences(since, until))
        ]

    def of(self, row: Any, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of [start, end) in a window that applies to `row`: merged, in order."""
        found = sorted(
            (max(s, start), min(e, end))
            for window, spans in self.occurring
            if window.applies_to(row)
            for s, e in spans
            if s < end and e > start
        )
        merged: list[tuple[datetime, datetime]] = []
        for s, e in found:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged
