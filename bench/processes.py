"""Starting and stopping the processes a bench runs (nginx, runprobes, Celery): each in a
session of its own, so that stopping it stops its children too."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def spawn(
    command: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen:
    """`command` from the repository's root, its output appended to `log` (or dropped)."""
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        if log:
            out.close()  # the child holds its own copy


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to its session, SIGKILL after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
