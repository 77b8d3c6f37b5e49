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
filter change is not a poll: it sends no stamp, and is always rendered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dashboard.board import Board
from probes.models import StateVersion

HEADER = "X-Seahealth-Shown"
# What the live part shows that ages without a token moving (the prober's backlog, uptimes
# refreshed, a breaker's trial due) is rendered again at least this often.
RENDERED_AT_MOST = timedelta(minutes=1)


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
