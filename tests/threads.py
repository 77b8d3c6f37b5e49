"""seahealth's worker threads, as the tests see them."""

from __future__ import annotations

import concurrent.futures.thread
import queue
import sys
import threading
from pathlib import Path

# Where an idle pool thread waits for work: the pool's loop and the threading machinery.
_IDLE = {
    Path(module.__file__).resolve() for module in (threading, queue, concurrent.futures.thread)
}


def busy_probe_threads() -> list[str]:
    """The seahealth-* threads running something rather than waiting for work."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    busy = []
    for ident, frame in sys._current_frames().items():
        name = names.get(ident, "")
        if not name.startswith("seahealth-"):
            continue
        stack = []
        while frame is not None:
            stack.append(Path(frame.f_code.co_filename).resolve())
            frame = frame.f_back
        if any(path not in _IDLE for path in stack):
            busy.append(name)
    return busy
