from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import get_resolver

from tests import databases
from tests.certificates import self_signed, server_context
from tests.servers import HangingServer, LocalHTTPServer

ROOT = Path(__file__).resolve().parents[1]
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("SEAHEALTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def missing(reason: str) -> NoReturn:
    """A tool or peer the test needs is not here: skip with the reason; with CI=true, which
    must run everything it claims to, fail."""
    if CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def load_settings(shows: str = "s.SECRET_KEY", **env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with `env` on top of a clean environment;
    it prints `shows`, an expression of the settings `s`."""
    script = f"import django; django.setup(); from django.conf import settings as s; print({shows})"
    return run_with_settings(["-c", script], **env)


def run_with_settings(arguments: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """`python arguments...` in the project, with `env` on top of a clean environment (none
    of this run's SEAHEALTH_* or DEBUG)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEAHEALTH_", "DEBUG"))}
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "seahealth.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def entry_problems(entry: str) -> list[str]:
    """The problems of a declaration of one entry, `entry` being YAML flow mapping content
    (`name: api, kind: http, url: ...`), as "field: message" lines; [] when it is good."""
    from probes.declarations import DeclarationError, parse_declaration  # after Django is set up

    try:
        parse_declaration(f"dependencies:\n  - {{{entry}}}\n", "dependencies.yaml")
    except DeclarationError as exc:
        return [f"{problem.field}: {problem.message}" for problem in exc.problems]
    return []


def wait_for(condition: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _service_skips() -> dict[str, str | None]:
    """Per marker: why its tests cannot run here, or None when they can."""
    database = settings.DATABASES["default"]
    on_postgres = database["ENGINE"] == "django.db.backends.postgresql"
    postgres = None
    if not on_postgres:
        postgres = (
            "needs PostgreSQL: runs in make test's PostgreSQL pass (DATABASE_URL=postgres://...)"
        )
    redis_url = urlsplit(REDIS_URL)
    redis = None
    if not _reachable(redis_url.hostname or "127.0.0.1", redis_url.port or 6379):
        redis = f"Redis is not reachable at {redis_url.hostname}:{redis_url.port}"
    return {"postgres": postgres, "redis": redis}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        host, port = database.get("HOST") or "127.0.0.1", int(database.get("PORT") or 5432)
        if not _reachable(host, port):
            if CI:
                raise pytest.UsageError(f"CI=true but PostgreSQL is not reachable at {host}:{port}")
            skip = pytest.mark.skip(reason=f"PostgreSQL is not reachable at {host}:{port}")
            for item in items:
                item.add_marker(skip)
            return
    for marker, reason in _service_skips().items():
        if reason is None:
            continue
        if CI and marker != "postgres":
            # CI must run what it claims to: a missing service is a failure, not a skip.
            raise pytest.UsageError(f"CI=true but {reason}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


# --- tests that run in one pass ----------------------------------------------------------
# make test runs the suite twice: on SQLite, then on PostgreSQL. A test marked no_database
# (a parser, a probe kind against a real peer, the settings loaded in a fresh process) touches
# no database, here or in a process it starts: both passes would run the same code, so the
# PostgreSQL pass skips it. A module may be marked whole: those of its tests that can reach
# the database (the django_db mark, or a fixture that needs it) still run in both passes.
# A test marked engine_agnostic uses the database only to hold what it looks at (a page's
# layout in a browser, the README's screenshot): the PostgreSQL pass skips it too.
ONE_PASS = "no_database: it touches no database, and runs in make test's SQLite pass"
ENGINE_AGNOSTIC = "engine_agnostic: the database engine is not its subject; SQLite pass only"


def reaches_database(item: pytest.Item) -> bool:
    """Whether a test may use the test database: pytest-django lets it only then."""
    fixtures = set(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("django_db") is not None or bool(
        fixtures & {"_django_db_helper", "live_server"}
    )


def runs_once(item: pytest.Item) -> bool:
    return item.get_closest_marker("no_database") is not None and not reaches_database(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before the fixtures (a module's peer is not started for nothing); raised here, the
    # skips are counted on one line of the summary.
    on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if on_postgres and runs_once(item):
        pytest.skip(ONE_PASS)
    if on_postgres and item.get_closest_marker("engine_agnostic") is not None:
        pytest.skip(ENGINE_AGNOSTIC)


@pytest.fixture(autouse=True)
def _no_database_handed_to_a_process(request: pytest.FixtureRequest, monkeypatch) -> None:
    """In this process, pytest-django refuses a no_database test the database; this refuses
    it tests.databases' URL, which hands the database to the processes a test starts."""
    if runs_once(request.node):

        def refused() -> str:
            raise AssertionError(f"{request.node.nodeid} hands the database to a process")

        monkeypatch.setattr(databases, "database_url", refused)


@pytest.fixture(scope="session", autouse=True)
def _urls_imported_before_time_is_frozen() -> None:
    """A page asked for first under freeze_time would import the URLconf then, and with it
    the API's schemas: pydantic cannot build a schema on freezegun's datetime class."""
    get_resolver().url_patterns  # noqa: B018 - imported for its effect


@pytest.fixture(autouse=True)
def _health_snapshot_forgotten() -> None:
    """/health/* keeps the state it read for a moment: each test reads its own database."""
    from dashboard import database_failures, history_bars, live_state
    from dashboard.health import forget_snapshot  # after Django is set up
    from probes import maintenance_reader

    forget_snapshot()
    maintenance_reader.forget()
    database_failures.forget()
    history_bars.forget()
    live_state.forget()


@pytest.fixture
def viewer(client, django_user_model):
    """The test client, logged in as a user with no permission: who reads the pages."""
    # No password: force_login needs none, and hashing one takes a quarter of a second.
    client.force_login(django_user_model.objects.create_user("ops"))
    return client


@pytest.fixture
def admin_user(db, django_user_model):
    """pytest-django's admin_user (which admin_client logs in with force_login), without its
    password "password": no test types it, and hashing it takes a quarter of a second."""
    return django_user_model.objects.create_superuser("admin", "admin@example.com")


@pytest.fixture
def promtool() -> str:
    """Prometheus' promtool, from Debian's prometheus package (make test installs it)."""
    path = shutil.which("promtool")
    if path is None:
        missing("promtool is not installed (as root, make test installs Debian's prometheus)")
    return path


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def tls_certificate(tmp_path: Path) -> Path:
    return self_signed(tmp_path)


@pytest.fixture
def https_server(tls_certificate: Path) -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer(ssl_context=server_context(tls_certificate)).start()
    yield server
    server.stop()


@pytest.fixture
def hanging_server() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.stop()


@pytest.fixture
def declaration(tmp_path: Path, settings) -> Path:
    """An empty dependencies.yaml that settings point at; tests write what they need."""
    path = tmp_path / "dependencies.yaml"
    path.write_text("dependencies: []\n")
    settings.SEAHEALTH_DEPENDENCIES = path
    return path
