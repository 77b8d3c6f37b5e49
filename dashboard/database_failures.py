"""A database that fails, as machines are told (503 "database unavailable") and as the log
is: the driver's text, which names the host, port and database, goes to the log alone, once
when it changes (and again every minute while it lasts), not once per poll."""

from __future__ import annotations

import logging
import threading
import time

from django.db import DatabaseError

UNAVAILABLE = "database unavailable"
# While the same failure lasts, it is logged again this often (seconds).
REPEAT_SECONDS = 60.0

log = logging.getLogger(__name__)
_lock = threading.Lock()
# The failure last logged, and when (time.monotonic()); None while the database answers.
_logged: tuple[str, float] | None = None


def failed(exc: DatabaseError) -> None:
    global _logged
    text = f"{type(exc).__name__}: {exc}".strip()
    now = time.monotonic()
    with _lock:
        if _logged is not None and _logged[0] == text and now - _logged[1] < REPEAT_SECONDS:
            return
        _logged = (text, now)
    log.error("%s: %s", UNAVAILABLE, text)


def answered() -> None:
    """The database answered: say so once, if its failure was logged."""
    global _logged
    if _logged is None:  # the usual case, without the lock
        return
    with _lock:
        if _logged is None:
            return
        _logged = None
    log.warning("the database answers again")


def forget() -> None:
    """Forget the failure logged (tests start each from a database that answers)."""
    global _logged
    _logged = None
