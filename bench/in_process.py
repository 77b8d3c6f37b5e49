"""Django in a bench's own process: settings from the environment as a bench wants them
(DEBUG off), and a database of the bench's own, made fresh and dropped after.

A bench imports this before anything of Django's, then calls start() before it imports
models:

    sys.path.insert(0, str(ROOT))
    from bench import in_process
    WORKDIR = in_process.start(ARGS.database_url)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import django


def start(database_url: str | None, **environment: str) -> Path:
    """Set Django up on `database_url` (a PostgreSQL server), or on SQLite in the bench's new
    temporary directory; that directory, for the bench's files."""
    workdir = Path(tempfile.mkdtemp(prefix="seahealth-bench-"))
    os.environ.pop("DATABASE_URL_FILE", None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "seahealth.settings",
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,  # required with DEBUG off
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
            **environment,
        }
    )
    django.setup()
    return workdir


@contextlib.contextmanager
def fresh_database(workdir: Path, postgres_name: str, keep: bool = False) -> Iterator[str]:
    """A new database, migrated (Django's test database machinery): on SQLite the file in
    `workdir`, on PostgreSQL `postgres_name` (one left behind is dropped first). Dropped
    after, with `workdir`, unless `keep`."""
    from django.db import connection

    settings = connection.settings_dict
    sqlite = connection.vendor == "sqlite"
    settings["TEST"]["NAME"] = settings["NAME"] if sqlite else postgres_name
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield database
    finally:
        if keep:
            print(f"kept: {database}")
        else:
            connection.creation.destroy_test_db(database, verbosity=0)
            shutil.rmtree(workdir, ignore_errors=True)
