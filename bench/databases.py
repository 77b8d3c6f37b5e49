"""The database a bench's prober runs on: a fresh SQLite file, or a PostgreSQL database of
the bench's own (`name`), created empty and dropped after."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def database_url(shape: str, workdir: Path, postgres: str, name: str) -> str:
    """A new SQLite file in `workdir` for the embedded shape; else `name`, made afresh on
    the server `postgres` points at."""
    if shape == "embedded":
        return f"sqlite:///{workdir / f'{shape}-{time.monotonic_ns()}.sqlite3'}"
    drop_postgres(postgres, name)
    psql(postgres, f"CREATE DATABASE {name}")
    return postgres.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(postgres: str, name: str) -> None:
    psql(postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def psql(url: str, statement: str) -> None:
    subprocess.run(["psql", url, "-q", "-c", statement], check=True, capture_output=True)
