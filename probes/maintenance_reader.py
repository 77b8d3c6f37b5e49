"""The maintenance windows in effect now, read once per process for a few seconds.

Recording, the outbox, /health/*, /metrics and the pages all ask "is this dependency in a
window now?". The answer comes from one query of the window rows, kept per process until
StateVersion's token moves (sync and the API bump it when a window changes) or the next
moment a window starts or ends, whichever is first; the token is asked at most every
RECHECK seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from probes.maintenance import Active, Window, active_for, in_effect, next_boundary
from probes.models import MaintenanceWindow, StateVersion

RECHECK = timedelta(seconds=5)


def window(row: MaintenanceWindow) -> Window:
    return Window(
        name=row.name,
        match=row.match,
        start=row.start,
        end=row.end,
        rrule=row.rrule,
        duration=row.duration,
        timezone=row.timezone,
        source=row.source,
    )


def load() -> list[Window]:
    """The windows not archived, declared and made through the API alike: one query."""
    return [window(row) for row in MaintenanceWindow.objects.filter(archived_at__isnull=True)]


@dataclass
class InEffect:
    """The windows in effect at `at`, until `expires` (the next start or end of any)."""

    token: int | None
    at: datetime
    expires: datetime
    checked: datetime  # when the token was last found unmoved
    effective: list[tuple[Window, datetime]]
    windows: list[Window]  # every window, in effect or not

    def of(self, dependency: Any) -> Active | None:
        """The window `dependency` (a row, or a dict of its columns) is in, or None."""
        return active_for(self.effective, dependency) if self.effective else None

    @classmethod
    def read(cls, windows: Iterable[Window], now: datetime, token: int | None) -> InEffect:
        windows = list(windows)
        expires = next_boundary(windows, now)
        return cls(token, now, expires, now, in_effect(windows, now), windows)


_latest: InEffect | None = None
_reading = threading.Lock()


def now_in_effect(now: datetime | None = None) -> InEffect:
    """The windows in effect now, from this process's copy while it holds (module doc)."""
    global _latest
    now = now or timezone.now()
    latest = _latest
    if latest is not None and latest.at <= now < latest.expires:
        if now - latest.checked < RECHECK:
            return latest
        token = StateVersion.current()
        if token is not None and token == latest.token:
            latest.checked = now
            return latest
    with _reading:
        # The token first: a window written meanwhile is read on the next recheck.
        token = StateVersion.current()
        _latest = InEffect.read(load(), now, token)
        return _latest


def forget() -> None:
    """Drop this process's copy (tests start each from the database)."""
    global _latest
    _latest = None
