"""Whether dependencies.yaml, as the prober last read it, was accepted, and if not, why: one
row (DeclarationState) that the status page's banner and /metrics read.

Written by the declaration watcher when the answer changes, never on a tick where nothing
did. Writing it must not stop the prober: a database that refuses it is logged and the
next change tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError

from probes.models import DeclarationState, StateVersion

log = logging.getLogger(__name__)


def current() -> DeclarationState | None:
    """The state; None before any prober read the file."""
    return DeclarationState.objects.filter(pk=DeclarationState.ROW_ID).first()


def accepted(now: datetime) -> bool:
    """Records an accepted file; True when it was refused before (it is fixed)."""
    before = _read()
    _write(valid=True, problems=[], synced_at=now, refused_at=None)
    return before is not None and not before.valid


def refused(problems: list[str], now: datetime) -> None:
    """Records a refused file; the declaration probed meanwhile stays the last accepted."""
    before = _read()
    if before is not None and not before.valid and before.problems == problems:
        return
    _write(
        valid=False,
        problems=problems,
        synced_at=before.synced_at if before else None,
        refused_at=before.refused_at if before and not before.valid else now,
    )


def _read() -> DeclarationState | None:
    try:
        return current()
    except DatabaseError:
        return None


def _write(**values: object) -> None:
    try:
        DeclarationState.objects.update_or_create(pk=DeclarationState.ROW_ID, defaults=values)
        StateVersion.bump()  # the status page's banner shows it: a poll renders it at once
    except DatabaseError as exc:
        log.warning("could not record the declaration's state (%s): the next change will", exc)
