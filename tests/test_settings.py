"""Settings come from the environment; bad values fail at start with a clear reason."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import load_settings


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "false", "SECRET_KEY": ""}, "SECRET_KEY (or SECRET_KEY_FILE) must be set"),
        ({"SEAHEALTH_BATCH_SIZE": "0"}, "SEAHEALTH_BATCH_SIZE must be greater than zero"),
        ({"SEAHEALTH_BATCH_SIZE": "many"}, "SEAHEALTH_BATCH_SIZE must be an integer, got 'many'"),
        ({"SEAHEALTH_TICK_SECONDS": "-1"}, "SEAHEALTH_TICK_SECONDS must be greater than zero"),
        ({"SECRET_KEY_FILE": "/nonexistent/secret"}, "SECRET_KEY_FILE=/nonexistent/secret"),
        ({"SEAHEALTH_READY_MAX_AGE": "soon"}, "SEAHEALTH_READY_MAX_AGE: 'soon' is not a duration"),
        (
            {"SEAHEALTH_HEALTH_RECHECK_SECONDS": "-0.5"},
            "SEAHEALTH_HEALTH_RECHECK_SECONDS must be zero or more, got -0.5",
        ),
    ],
)
def test_a_bad_value_fails_at_start_with_its_name(env, message) -> None:
    result = load_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_health_recheck_may_be_zero() -> None:
    result = load_settings(SEAHEALTH_HEALTH_RECHECK_SECONDS="0")
    assert result.returncode == 0, result.stderr


def test_a_secret_can_come_from_a_file(tmp_path) -> None:
    (tmp_path / "key").write_text("from-the-file\n")
    result = load_settings(DEBUG="false", SECRET_KEY_FILE=str(tmp_path / "key"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-the-file"


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only; this pass runs on PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
