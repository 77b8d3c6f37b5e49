"""Makes the Dependency rows match a declaration, in one transaction; idempotent.

Sync writes what the declaration owns (DependencySpec.COLUMNS) and the schedule, never the
current state. An entry that leaves the file is archived (its history stays readable), and
comes back if it returns.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from inbound import tokens
from notifications.sync import sync_notifications
from probes.declarations import Declaration
from probes.dependency_spec import DependencySpec
from probes.maintenance import Window
from probes.models import Dependency, MaintenanceWindow, StateVersion, WindowSource


@dataclass(frozen=True)
class SyncReport:
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    archived: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()
    unchanged: int = 0
    notifications: tuple[str, ...] = ()  # channels and routes changed
    windows: tuple[str, ...] = ()  # maintenance windows changed

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.updated
            or self.archived
            or self.restored
            or self.notifications
            or self.windows
        )

    def __str__(self) -> str:
        parts = [
            f"{label} {len(names)} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
            for label, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("restored", self.restored),
                ("archived", self.archived),
            )
            if names
        ]
        notified = [f"notifications: {', '.join(self.notifications)}"] if self.notifications else []
        windows = [f"maintenance: {', '.join(self.windows)}"] if self.windows else []
        return "; ".join([*parts, f"unchanged {self.unchanged}", *notified, *windows])


def sync_declaration(declaration: Declaration, now: datetime | None = None) -> SyncReport:
    """Make the dependencies, channels and routes match the declaration, all or nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        report = sync(declaration.dependencies, now)
        changes = sync_notifications(declaration.notifications, now)
        windows = sync_windows(declaration.maintenance, now)
        if windows:
            StateVersion.bump()  # what /health and /metrics show of a window moves with it
    return dataclasses.replace(report, notifications=tuple(changes), windows=tuple(windows))


def window_values(window: Window) -> dict[str, Any]:
    """A window as its row's columns."""
    return {
        "match": dict(window.match),
        "start": window.start,
        "end": window.end,
        "rrule": window.rrule,
        "duration": window.duration,
        "timezone": window.timezone,
    }


def sync_windows(windows: tuple[Window, ...], now: datetime) -> list[str]:
    """Make the declared windows' rows match; the API's are left alone. What changed."""
    changes = []
    rows = {
        row.name: row
        for row in MaintenanceWindow.objects.select_for_update().filter(
            source=WindowSource.DECLARED
        )
    }
    for window in windows:
        values = window_values(window)
        row = rows.get(window.name)
        if row is None:
            MaintenanceWindow.objects.create(
                name=window.name, source=WindowSource.DECLARED, **values
            )
            changes.append(f"window {window.name} created")
        elif row.archived_at is not None or any(getattr(row, k) != v for k, v in values.items()):
            what = "restored" if row.archived_at is not None else "updated"
            MaintenanceWindow.objects.filter(id=row.id).update(archived_at=None, **values)
            changes.append(f"window {window.name} {what}")
    declared = {window.name for window in windows}
    for name, row in rows.items():
        if name not in declared and row.archived_at is None:
            # Archived, not deleted: the timeline of the dependencies it covered keeps it.
            MaintenanceWindow.objects.filter(id=row.id).update(archived_at=now)
            changes.append(f"window {name} archived")
    return changes


def sync(specs: list[DependencySpec], now: datetime | None = None) -> SyncReport:
    """Make the rows match the declaration, in one transaction; idempotent."""
    now = now or timezone.now()
    declared = {spec.name: spec for spec in specs}
    created, updated, restored, archived = [], [], [], []
    with transaction.atomic():
        _lock_declarations()
        # Locked in id order, as recording locks them, so the two never deadlock.
        locked = Dependency.objects.select_for_update().order_by("id").only(*_SYNCED_FIELDS)
        rows = {row.name: row for row in locked}
        new_rows = []
        for name, spec in declared.items():
            row = rows.get(name)
            if row is None:
                # A new dependency is due at once: its first probe sets its phase.
                new_rows.append(Dependency(name=name, next_due_at=now, **spec.row_values()))
                created.append(name)
                continue
            changed = _apply(row, spec.row_values(), now)
            if row.archived_at is not None:
                row.archived_at = None
                row.next_due_at = now
                restored.append(name)
            elif changed:
                updated.append(name)
            if changed or name in restored:
                # Only what the declaration owns: the current state is the recorder's. Its
                # metrics may carry the old kind or criticality: /metrics renders it afresh.
                row.metrics_text = ""
                row.save(update_fields=[*_SYNCED_FIELDS[1:], "metrics_text"])
        Dependency.objects.bulk_create(new_rows)
        for name, row in rows.items():
            if name not in declared and row.archived_at is None:
                archived.append(name)
        Dependency.objects.filter(name__in=archived).update(archived_at=now)
        if created or updated or restored or archived:
            StateVersion.bump()
        # The heartbeats' ${VAR} tokens, hashed from this environment: a rotated one is taken
        # at the next sync (a restart, or any change to the file).
        tokens.store_declared(specs)
    return SyncReport(
        created=tuple(created),
        updated=tuple(updated),
        archived=tuple(archived),
        restored=tuple(restored),
        unchanged=len(declared) - len(created) - len(updated) - len(restored),
    )


# What sync reads and writes: the declared fields and the schedule, never the current state.
_SYNCED_FIELDS = (*DependencySpec.COLUMNS, "archived_at", "next_due_at")


def _apply(row: Dependency, values: dict[str, Any], now: datetime) -> bool:
    if row.interval != values["interval"]:
        # A shorter interval takes effect now, not after the old, longer wait.
        row.next_due_at = min(row.next_due_at, now + values["interval"])
    changed = False
    for field, value in values.items():
        if getattr(row, field) != value:
            setattr(row, field, value)
            changed = True
    return changed


def _lock_declarations() -> None:
    """One sync at a time across processes (SQLite's IMMEDIATE transactions already are)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('seahealth.declarations'))")
