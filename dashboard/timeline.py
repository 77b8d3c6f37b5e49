"""The dependency page's timeline: its breaker's transitions, and the starts and ends of the
maintenance windows that covered it, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from probes import maintenance_reader
from probes.maintenance import Window
from probes.models import Dependency, MaintenanceWindow

LENGTH = 50
# How far back windows are looked for when the breaker's transitions reach no further.
LONGEST_SPAN = timedelta(days=30)


@dataclass(frozen=True)
class Entry:
    at: datetime
    change: str
    why: str
    css: str  # the class of the change's cell: breaker-open, maintenance, ...


def entries(row: Dependency, now: datetime) -> list[Entry]:
    """The newest LENGTH transitions and the windows' starts and ends since the oldest of
    them (or LONGEST_SPAN, when there are fewer), up to `now`."""
    transitions = list(row.transitions.order_by("-at", "-id")[:LENGTH])
    found = [
        Entry(
            t.at,
            f"{t.get_from_state_display()} → {t.get_to_state_display()}",
            t.reason,
            f"breaker-{t.to_state}",
        )
        for t in transitions
    ]
    since = transitions[-1].at if len(transitions) == LENGTH else now - LONGEST_SPAN
    for window, archived_at in _windows(row):
        until = min(now, archived_at) if archived_at else now
        for start, end in window.occurrences(since, until):
            where = f"window {window.name} ({window.source})"
            if start >= since:
                found.append(Entry(start, "maintenance begins", where, "maintenance"))
            if end <= now:
                found.append(Entry(end, "maintenance ends", where, "maintenance"))
    return sorted(found, key=lambda entry: entry.at, reverse=True)


def _windows(row: Dependency) -> list[tuple[Window, datetime | None]]:
    """Every window that matches the row, archived ones too (until they were archived)."""
    return [
        (maintenance_reader.window(w), w.archived_at)
        for w in MaintenanceWindow.objects.all()
        if maintenance_reader.window(w).applies_to(row)
    ]
