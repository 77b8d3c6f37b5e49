"""The API over real HTTP: httpx against the project served on loopback, by gunicorn (as in
production) and by `manage.py runserver` (as in development), every route with every kind of
token, and every 4xx a client can meet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from probes.models import Dependency
from tests.api.test_access import EXPECTED, ROUTES
from tests.e2e.site import SERVERS, Site
from tests.factories import T0, make_dependency
from tests.processes import Process

pytestmark = pytest.mark.django_db(transaction=True)  # the server reads what the test wrote


@pytest.fixture(params=SERVERS)
def served(
    request: pytest.FixtureRequest, transactional_db: None, tmp_path: Path
) -> Iterator[Site]:
    """The site, on each server, stopped before the database is flushed (transactional_db's
    teardown)."""
    started: list[Process] = []

    def start(name: str, command: list[str], *, env: dict[str, str], **options: Any) -> Process:
        process = Process.start(name, command, log=tmp_path / f"{name}.log", env=env, **options)
        started.append(process)
        return process

    site = Site(start, tmp_path, server=request.param)
    try:
        make_dependency("api", next_due_at=T0, status="down", status_since=T0)
        make_dependency("calm", status="up", status_since=T0)
        make_dependency("gone", archived_at=T0)
        site.start()
        yield site
    finally:
        site.close()
        for process in started:
            process.stop()


def test_every_route_and_every_4xx_over_http(served: Site, api_tokens) -> None:
    presented = {
        "none": None,
        "wrong": "sh_wrong",
        "revoked": api_tokens.revoked,
        "read": api_tokens.read,
        "write": api_tokens.write,
    }
    with httpx.Client(base_url=served.url, timeout=10) as client:
        for who, token in presented.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            for method, path, scope, success in ROUTES:
                response = client.request(method.upper(), path, headers=headers)
                expected = EXPECTED[who][scope] or success
                assert (who, path, response.status_code) == (who, path, expected)
                assert response.headers["content-type"] == "application/json; charset=utf-8"
                assert ("www-authenticate" in response.headers) == (expected in (401, 403))

        writer = {"Authorization": f"Bearer {api_tokens.write}"}
        refusals = [
            ("GET", "/api/v1/dependencies/nothing", None, 404, "no dependency named"),
            ("GET", "/api/v1/dependencies/gone", None, 404, "'gone' is archived"),
            ("GET", "/api/v1/dependencies/Bad%20Name", None, 400, "bad request: name: "),
            ("POST", "/api/v1/dependencies/api/probe", b"{", 400, "the body is not JSON"),
            (
                "POST",
                "/api/v1/dependencies/api/probe",
                b'{"reason": 1}',
                400,
                "bad request: reason",
            ),
            ("POST", "/api/v1/dependencies/api/probe", b'{"x": 1}', 400, "bad request: x: "),
            ("DELETE", "/api/v1/dependencies/api", None, 405, None),
            ("POST", "/api/v1/dependencies/calm/acknowledge", None, 409, "calm is up, not down"),
            ("POST", "/api/v1/dependencies/gone/acknowledge", None, 404, "no active dependency"),
            ("GET", "/api/v1/incidents?month=2026-13", None, 400, "bad request: month"),
            ("GET", "/api/v1/incidents?limit=0", None, 400, "bad request: limit"),
        ]
        for method, path, body, status, error in refusals:
            response = client.request(
                method, path, content=body, headers={**writer, "Content-Type": "application/json"}
            )
            assert (method, path, response.status_code) == (method, path, status)
            if error:
                assert response.json()["error"].startswith(error)

        schema = client.get("/api/v1/openapi.json").json()
        assert set(schema["paths"]) == {
            "/api/v1/dependencies",
            *(f"/api/v1/dependencies/{{name}}{tail}" for tail in ("", "/probe", "/acknowledge")),
            "/api/v1/incidents",
            "/api/v1/maintenance",
            "/api/v1/maintenance/{name}",
        }
    # The one accepted probe (the write token's) made the row due now, through the server.
    assert Dependency.objects.get(name="api").next_due_at > T0
