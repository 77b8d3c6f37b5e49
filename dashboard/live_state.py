"""Whether a poll of the status page's live part would change anything: the stamp the part
carries, and the check of it.

Every open tab polls the live part every SEAHEALTH_REFRESH_SECONDS. The part carries the
state it was rendered from as a stamp: StateVersion's token (recording, sync,
acknowledgements and maintenance windows move it) and the moment it stops being true though
no state moves (a maintenance window starts or ends, the prober's silence begins or its age
reads differently: Board.expires), a minute ahead at most. A poll sends the stamp back;
while the token has not moved and the moment has not passed, the view answers 204 (htmx
swaps nothing) after one small query, without building or rendering the board. Relative
times ("25 s ago") age meanwhile in the browser: static/seahealth/relative-times.js. A
filter change is not a poll: it sends no stamp, and is never answered 204.

While the prober runs, the token moves with every batch it records, and most polls find a
change. Then every viewer of the same view (the same path: filters are in the URL) shares
one render for half the refresh period: the process keeps the live part it rendered last
per path, and answers from it (or 204, to the tab that has it). Ten tabs on a wall cost a
render every half period, not ten; each shows a state at most half a period older.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from dashboard.board import Board
from probes.models import StateVersion

HEADER = "X-Seahealth-Shown"
# What the live part shows that ages without a token moving (the prober's backlog, uptimes
# refreshed, a breaker's trial due) is rendered again at least this often.
RENDERED_AT_MOST = timedelta(minutes=1)
# Paths whose last render a process keeps at most (a view each, by its filters).
KEPT_AT_MOST = 32


def stamp(token: int | None, board: Board, now: datetime) -> str:
    """The stamp of a live part rendered from `board`, `token` read before it was built; ""
    before the first state was written (nothing to compare with: every poll renders)."""
    if token is None:
        return ""
    until = min(board.expires, now + RENDERED_AT_MOST)
    return f"{token}.{int(until.timestamp())}"


def unchanged(shown: str, now: datetime) -> bool:
    """Whether the live part stamped `shown` is still what a render would show: its moment
    has not passed (no query) and the token has not moved (one)."""
    token, _, until = shown.partition(".")
    if not (token.isdigit() and until.isdigit()) or now.timestamp() >= int(until):
        return False
    return StateVersion.current() == int(token)


@dataclass(frozen=True)
class Render:
    """A live part as rendered for a path, to share with its other viewers for a moment."""

    at: float  # time.monotonic()
    stamp: str
    content: bytes


_renders: dict[str, Render] = {}


def shared(path: str) -> Render | None:
    """The live part rendered for `path` less than half a refresh period ago, if any."""
    render = _renders.get(path)
    return render if render is not None and _fresh(render, time.monotonic()) else None


def keep(path: str, stamp: str, content: bytes) -> None:
    """Keeps a render to share; those no longer shared are dropped (at 10,000 dependencies
    a live part is 1.6 MB)."""
    now = time.monotonic()
    # pop, not del: a gunicorn thread may be dropping the same one.
    for old in [kept for kept, render in list(_renders.items()) if not _fresh(render, now)]:
        _renders.pop(old, None)
    if len(_renders) >= KEPT_AT_MOST:
        _renders.clear()
    _renders[path] = Render(now, stamp, content)


def _fresh(render: Render, now: float) -> bool:
    return now - render.at < settings.SEAHEALTH_REFRESH_SECONDS / 2


def forget() -> None:
    """Drop this process's renders (tests start each from the database)."""
    _renders.clear()
