"""Watches dependencies.yaml: syncs it whenever its content changes, and never lets a bad
file, a crash while reading it or a database that refuses it stop the prober."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from probes import declaration_state
from probes.declarations import DeclarationError, decode, parse_document, read_bytes
from probes.excerpts import shorten
from probes.sync import SyncReport, sync_declaration

log = logging.getLogger(__name__)


class DeclarationWatcher:
    """Syncs the declaration when its content changes; a refused file changes nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._digest: str | None = None
        self.last_problem: str | None = None

    @classmethod
    def from_settings(cls) -> DeclarationWatcher:
        return cls(Path(settings.SEAHEALTH_DEPENDENCIES))

    def sync_if_changed(self) -> SyncReport | None:
        """The sync's report when the file changed and was accepted; None otherwise.

        Never raises: whatever goes wrong, the rows stay as the last accepted declaration
        left them, and the prober goes on probing them."""
        # Read and hashed every time: a file of a thousand entries takes well under a
        # millisecond, and no same-size edit within one clock tick can slip through.
        try:
            data = read_bytes(self.path)
        except OSError as exc:
            # Forget the last version: when the file is back, even unchanged, it is synced
            # again, and that clears this problem.
            self._digest = None
            return self._refused(f"{self.path}: cannot read it ({exc.strerror or exc})")
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._digest:
            return None
        # Marked before it is read: a file refused once is not read again until it changes.
        self._digest = digest
        source = str(self.path)
        try:
            declaration = parse_document(decode(data, source), source)
        except DeclarationError as exc:
            return self._refused(str(exc), [str(problem) for problem in exc.problems])
        except Exception as exc:  # a bug in reading must not stop the prober
            log.exception("reading %s crashed (a bug in seahealth)", self.path)
            return self._refused(f"{self.path}: declaration refused: {_failure(exc)}")
        try:
            report = sync_declaration(declaration)
        except (OperationalError, InterfaceError) as exc:
            # The database is away or busy, not the declaration wrong: try again next time.
            self._digest = None
            return self._refused(
                f"{self.path}: not synced yet, the database is unavailable ({_failure(exc)})",
                record=False,
            )
        except Exception as exc:  # whatever the database refuses is a refusal
            log.exception("the database refused %s", self.path)
            return self._refused(
                f"{self.path}: declaration refused, the database could not store it "
                f"({_failure(exc)}); nothing was changed"
            )
        fixed = declaration_state.accepted(timezone.now()) or self.last_problem is not None
        self.last_problem = None
        if fixed:
            log.info("%s accepted: the problems reported before are fixed (%s)", self.path, report)
        elif report.changed:
            log.info("%s synced: %s", self.path, report)
        return report

    def _refused(
        self, problem: str, problems: list[str] | None = None, *, record: bool = True
    ) -> None:
        """Logs a refusal once; records its problems (or the message as one) for the page
        and /metrics, unless the file is not at fault (`record=False`: the database is)."""
        if problem == self.last_problem:
            return None
        log.error("%s\nStill probing the dependencies declared before.", problem)
        self.last_problem = problem
        if record:
            declaration_state.refused(problems or [problem], timezone.now())
        return None


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {shorten(str(exc))}"
