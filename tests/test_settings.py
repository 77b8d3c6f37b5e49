"""Settings come from the environment; bad values fail at start with a clear reason."""

from __future__ import annotations

import ast
import secrets
import subprocess

import pytest
from django.db import connection

from tests.conftest import ROOT, load_settings, run_with_settings
from tests.test_docker_compose import env_example

pytestmark = pytest.mark.no_database  # its django_db tests run in both passes all the same


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


# Every variable read as a boolean, a number, a level, a URL or a list: nonsense stops the
# process at start, naming the variable, instead of being read as some default.
NONSENSE = [
    ("DEBUG", "maybe"),
    ("DEBUG", "2"),
    ("SEAHEALTH_PUBLIC_DASHBOARD", "sometimes"),
    ("CONN_MAX_AGE", "forever"),
    ("CONN_MAX_AGE", "-1"),
    ("SEAHEALTH_REFRESH_SECONDS", "5s"),
    ("SEAHEALTH_CLAIM_LIMIT", "1e3"),
    ("SEAHEALTH_MAX_IN_FLIGHT", "0"),
    ("SEAHEALTH_TICK_SECONDS", "nan"),
    ("SEAHEALTH_TICK_SECONDS", "inf"),
    ("SEAHEALTH_HEALTH_RECHECK_SECONDS", "often"),
    ("SEAHEALTH_RAW_RETENTION", "a week"),
    ("SEAHEALTH_READY_MAX_LAG", "2 minutes"),
    ("SEAHEALTH_READY_MAX_LAG", "0s"),
    ("SEAHEALTH_ROLLUP_RETENTION", "0d"),
    ("LOG_LEVEL", "LOUD"),
    ("LOG_LEVEL", "20"),
    ("DATABASE_URL", "nonsense"),
    ("DATABASE_URL", "mysql://seahealth:hunter2@db/seahealth"),
    ("DATABASE_URL", "postgres://seahealth:hunter2@db:port/seahealth"),
    ("DATABASE_URL", "postgres://seahealth:hunter2@db:5432"),
    ("CELERY_BROKER_URL", "localhost:6379"),
    ("CELERY_BROKER_URL", "http://guest:hunter2@rabbit//"),
    ("ALLOWED_HOSTS", "https://status.example.com"),
    ("CSRF_TRUSTED_ORIGINS", "status.example.com"),
    ("SEAHEALTH_BEHIND_TLS_PROXY", "nginx"),
    ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto"),
    ("SECURE_SSL_REDIRECT", "always"),
    ("SESSION_COOKIE_SECURE", "y"),
    ("CSRF_COOKIE_SECURE", "secure"),
    ("SECURE_HSTS_SECONDS", "1y"),
    ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "all"),
    ("SECURE_HSTS_PRELOAD", "please"),
    ("SEAHEALTH_LOGIN_FAILURE_LIMIT", "many"),
    ("SEAHEALTH_LOGIN_FAILURE_LIMIT", "0"),
    ("SEAHEALTH_LOGIN_LOCKOUT", "forever"),
    ("SEAHEALTH_TRUSTED_PROXY_HOPS", "-1"),
]


@pytest.mark.parametrize(("name", "value"), NONSENSE)
def test_nonsense_stops_the_process_naming_the_variable(name, value) -> None:
    result = load_settings(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert name in message
    # A URL may hold a password: the message says what is wrong, not what the URL is.
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("On", True),
        ("1", True),
        ("yes", True),
        ("no", False),
        ("0", False),
        ("off", False),
        ("FALSE", False),
        ("", False),
    ],
)
def test_booleans_are_read_strictly_and_empty_is_unset(value, expected) -> None:
    result = load_settings("s.DEBUG", DEBUG=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(expected)


def test_debug_is_off_unless_asked_for() -> None:
    result = load_settings("s.DEBUG")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_there_is_no_default_key() -> None:
    result = load_settings(SECRET_KEY="", SECRET_KEY_FILE="")
    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) must be set" in result.stderr


def test_an_empty_key_file_is_refused(tmp_path) -> None:
    (tmp_path / "key").write_text("\n")
    result = load_settings(SECRET_KEY_FILE=str(tmp_path / "key"))
    assert result.returncode != 0
    assert "the file is empty" in result.stderr


def test_the_published_development_key_is_gone() -> None:
    for path in [ROOT / "seahealth", ROOT / "dashboard", ROOT / "probes"]:
        for source in path.rglob("*.py"):
            assert "django-insecure" not in source.read_text(), source


def deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy --fail-level WARNING` with `env` on a clean environment."""
    return run_with_settings(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SECRET_KEY_FILE": "",
    "ALLOWED_HOSTS": "status.example.com",
}


def test_behind_a_tls_proxy_one_switch_passes_the_deploy_check() -> None:
    result = deploy_check(**PRODUCTION, SEAHEALTH_BEHIND_TLS_PROXY="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


def test_without_the_switch_the_deploy_check_warns() -> None:
    result = deploy_check(**PRODUCTION)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for check in ("W004", "W008", "W012", "W016"):  # HSTS, SSL redirect, the two cookies
        assert f"security.{check}" in output


def test_the_env_example_with_a_real_key_passes_the_deploy_check() -> None:
    result = deploy_check(**{**env_example(), "SECRET_KEY": secrets.token_urlsafe(50)})
    assert result.returncode == 0, result.stdout + result.stderr


SECURITY = (
    "[getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.SECURE_SSL_REDIRECT, "
    "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
    "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_REDIRECT_EXEMPT]"
)
PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
EXEMPT = ["^health/", "^metrics$"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, [None, False, False, False, 0, False, False, EXEMPT]),
        (
            {"SEAHEALTH_BEHIND_TLS_PROXY": "true"},
            [PROXY_HEADER, True, True, True, 31536000, True, False, EXEMPT],
        ),
        (
            {"SEAHEALTH_BEHIND_TLS_PROXY": "true", "SECURE_SSL_REDIRECT": "false"},
            [PROXY_HEADER, False, True, True, 31536000, True, False, EXEMPT],
        ),
        (
            {"SEAHEALTH_BEHIND_TLS_PROXY": "on", "SECURE_HSTS_SECONDS": "3600"},
            [PROXY_HEADER, True, True, True, 3600, True, False, EXEMPT],
        ),
        (
            {"SESSION_COOKIE_SECURE": "true", "CSRF_COOKIE_SECURE": "true"},
            [None, False, True, True, 0, False, False, EXEMPT],
        ),
        (
            {"SECURE_PROXY_SSL_HEADER": "true", "SECURE_HSTS_PRELOAD": "true"},
            [PROXY_HEADER, False, False, False, 0, False, True, EXEMPT],
        ),
    ],
)
def test_each_part_of_the_switch_can_be_set_on_its_own(env, expected) -> None:
    result = load_settings(SECURITY, **env)
    assert result.returncode == 0, result.stderr
    assert ast.literal_eval(result.stdout.strip()) == expected


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
