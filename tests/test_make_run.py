"""`make run` on a fresh clone: it makes a random SECRET_KEY once, in a git-ignored file only
its owner reads, and every process it starts uses it. Run through the real Makefile, with
its Python swapped for a script that notes what each command was given."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, load_settings

if shutil.which("make") is None:
    pytest.skip("make is not installed", allow_module_level=True)

# Stands in for the virtualenv's python: one line per command, with the key it would read.
# The three processes make run starts together stay until all have written theirs (make run
# stops the others when one ends); a bounded wait, should one never start.
RECORDER = """#!/bin/sh
echo "$* | SECRET_KEY_FILE=${SECRET_KEY_FILE:-unset} SECRET_KEY=${SECRET_KEY:-unset}" >> "$0.log"
case "$*" in *migrate*|*demo_user*) exit 0 ;; esac
i=0
while [ "$(wc -l < "$0.log")" -lt 5 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
"""


def make_run(directory: Path, **env: str) -> list[str]:
    """`make run` in `directory` (a fresh clone's state); the commands it ran, as lines."""
    recorder = directory / "python"
    recorder.write_text(RECORDER)
    recorder.chmod(0o755)
    log = Path(f"{recorder}.log")
    log.unlink(missing_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SECRET_KEY")}
    subprocess.run(
        # INSTALLED= : no virtualenv to make; PYTHON makes the key, as python3 would.
        [
            "make",
            "-f",
            str(ROOT / "Makefile"),
            "run",
            f"PY={recorder}",
            "INSTALLED=",
            f"PYTHON={sys.executable}",
        ],
        cwd=directory,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return log.read_text().splitlines()


def test_make_run_makes_a_private_key_once_and_every_process_uses_it(tmp_path) -> None:
    lines = make_run(tmp_path)
    key = tmp_path / ".secret-key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    made = key.read_text().strip()
    assert len(made) >= 50
    # migrate, demo_user, the demo peers, the prober and the dashboard.
    assert len(lines) == 5
    assert all(line.endswith(f"SECRET_KEY_FILE={key} SECRET_KEY=unset") for line in lines), lines
    assert any("runserver" in line for line in lines)

    make_run(tmp_path)
    assert key.read_text().strip() == made  # once: sessions outlive a restart

    other = tmp_path / "other"
    other.mkdir()
    make_run(other)
    assert (other / ".secret-key").read_text().strip() != made  # random, not published


def test_make_run_uses_a_key_of_your_own(tmp_path) -> None:
    lines = make_run(tmp_path, SECRET_KEY="mine-" + "x" * 50)
    assert not (tmp_path / ".secret-key").exists()
    assert all("SECRET_KEY_FILE=unset SECRET_KEY=mine-" in line for line in lines), lines


def test_the_key_file_is_git_ignored_and_kept_out_of_the_image() -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    ignored = subprocess.run(
        ["git", "check-ignore", "--quiet", ".secret-key"], cwd=ROOT, check=False, timeout=30
    )
    assert ignored.returncode == 0
    assert ".secret-key*" in (ROOT / ".dockerignore").read_text().splitlines()


def test_settings_read_the_key_make_run_made(tmp_path) -> None:
    make_run(tmp_path)
    key = tmp_path / ".secret-key"
    result = load_settings(SECRET_KEY="", SECRET_KEY_FILE=str(key))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key.read_text().strip()
