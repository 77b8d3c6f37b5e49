"""The test database as a URL, for the processes a test starts (runprobes, Celery)."""

from __future__ import annotations

import os
from urllib.parse import quote

from django.db import connection


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{quote(db['NAME'], safe='')}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """This environment, on the test database, without *_FILE secrets that would override it."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL_FILE"}}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "seahealth.settings",
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
