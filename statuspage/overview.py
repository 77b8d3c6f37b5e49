"""The public status page's content: the public entries only, grouped, in customers' words;
their 90-day bars, the open incidents and the maintenance planned for them.

Nothing internal leaves this module: the page gets plain values made here (a title, a
status, times), never a Dependency row, so no error text, URL, host, kind, internal name
behind a display name, nor any private entry can reach the template. A few queries
whatever the number of entries: the public rows, their open incidents, their 90-day days,
and the maintenance windows when this process's copy of them is read again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from django.utils import timezone
from django.utils.safestring import SafeString

from dashboard import history_bars, prober_silence
from probes import maintenance_reader
from probes.maintenance import Window
from probes.models import Dependency, Incident
from statuspage.wording import Wording, of_service, of_status

# How far ahead the page announces planned maintenance.
UPCOMING = timedelta(days=7)
HISTORY_DAYS = 90
# What the page reads of a row: matching a maintenance window needs critical, group, name.
READ_FIELDS = (
    *("id", "name", "display_name", "group", "critical", "status", "status_since"),
    *("last_checked_at", "interval"),  # whether these states are current
)


@dataclass(frozen=True)
class Entry:
    title: str  # the display name, or the name when there is none
    wording: Wording
    since: datetime | None
    in_maintenance_until: datetime | None = None
    history: SafeString | None = None  # the 90-day bar (dashboard/history_bars.py)


@dataclass(frozen=True)
class Group:
    name: str  # "" for the entries declared without a group
    entries: list[Entry]
    history: SafeString | None = None


@dataclass(frozen=True)
class Outage:
    title: str
    since: datetime


@dataclass(frozen=True)
class Maintenance:
    titles: list[str]
    start: datetime
    end: datetime
    ongoing: bool


@dataclass
class Overview:
    wording: Wording
    groups: list[Group]
    outages: list[Outage]
    maintenance: list[Maintenance]
    now: datetime
    # The newest check of these entries, and whether the prober has gone quiet since (the
    # page then says its states are as of that time, not now).
    checked_at: datetime | None = None
    stale: bool = False
    shown: int = field(init=False)

    def __post_init__(self) -> None:
        self.shown = sum(len(group.entries) for group in self.groups)


def public_rows() -> list[Dependency]:
    """The active public entries, ordered by group then title, with only what the page reads."""
    rows = list(Dependency.objects.active().filter(public=True).only(*READ_FIELDS))
    rows.sort(key=lambda row: (row.group, title(row).casefold(), row.name))
    return rows


def title(row: Dependency) -> str:
    return row.display_name or row.name


def build(now: datetime | None = None) -> Overview:
    now = now or timezone.now()
    rows = public_rows()
    windows = maintenance_reader.now_in_effect(now)
    bars = _history(rows, now)

    def entry(row: Dependency) -> Entry:
        active = windows.of(row)
        return Entry(
            title=title(row),
            wording=of_status(row.status),
            since=row.status_since,
            in_maintenance_until=active.until if active else None,
            history=bars.of(row.id),
        )

    groups = [
        Group(name, [entry(row) for row in members], bars.of_group(name, [r.id for r in members]))
        for name, members in (
            (name, list(members)) for name, members in groupby(rows, key=lambda row: row.group)
        )
    ]
    checked_at = max((row.last_checked_at for row in rows if row.last_checked_at), default=None)
    shortest = min((row.interval for row in rows), default=None)
    return Overview(
        wording=of_service((row.status, row.critical) for row in rows),
        groups=groups,
        outages=_outages(rows),
        maintenance=_maintenance(windows.windows, rows, now),
        now=now,
        checked_at=checked_at,
        stale=prober_silence.stale(checked_at, shortest, now) is not None,
    )


def _outages(rows: list[Dependency]) -> list[Outage]:
    """The open incidents of the public entries, longest first: one query."""
    titles = {row.id: title(row) for row in rows}
    opened = Incident.objects.filter(dependency_id__in=titles, ended_at__isnull=True)
    return [
        Outage(titles[dependency_id], started_at)
        for dependency_id, started_at in opened.order_by("started_at", "id").values_list(
            "dependency_id", "started_at"
        )
    ]


def _maintenance(windows: list[Window], rows: list[Dependency], now: datetime) -> list[Maintenance]:
    """Each window's current or next occurrence within UPCOMING that affects a public entry,
    by the public titles it affects (never the window's own name: that is ours)."""
    found = []
    for window in windows:
        affected = [title(row) for row in rows if window.applies_to(row)]
        spans = window.occurrences(now, now + UPCOMING) if affected else []
        if spans:
            start, end = spans[0]
            found.append(Maintenance(affected, start, end, ongoing=start <= now))
    found.sort(key=lambda m: (m.start, m.end, m.titles))
    return found


@dataclass
class _Bars:
    """The 90-day bars of the entries and of their groups, from one query's days."""

    days: dict[int, list[history_bars.Day]]
    titles: dict[int, str]
    places: dict[int, int]  # each entry's place on the page

    def of(self, dependency_id: int) -> SafeString:
        # Cells with ids, so that htmx gives a focused day its focus back after a poll: by
        # the entry's place on the page, not its name nor its row's id (both are ours).
        days, label = self.days[dependency_id], self.titles[dependency_id]
        return history_bars.render(days, label, ids=f"day-e{self.places[dependency_id]}")

    def of_group(self, name: str, ids: list[int]) -> SafeString | None:
        """None for the entries declared without a group: each has its own bar."""
        if not name:
            return None
        days = history_bars.combine([self.days[i] for i in ids])
        return history_bars.render(days, name, ids=f"day-g{self.places[ids[0]]}")


def _history(rows: list[Dependency], now: datetime) -> _Bars:
    days = history_bars.daily_uptimes([row.id for row in rows], days=HISTORY_DAYS, now=now)
    places = {row.id: place for place, row in enumerate(rows)}
    return _Bars(days, {row.id: title(row) for row in rows}, places)
