"""Who may call what: every route of /api/v1/ with no token, a wrong one, a revoked one, a
read one and a write one."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from api.models import AuditEntry
from tests.api.conftest import Tokens, bearer
from tests.factories import make_dependency

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/dependencies", "read", 200),
    ("get", "/api/v1/dependencies/api", "read", 200),
    ("post", "/api/v1/dependencies/api/probe", "write", 202),
    ("post", "/api/v1/dependencies/api/acknowledge", "write", 200),
    ("get", "/api/v1/incidents", "read", 200),
    ("get", "/api/v1/maintenance", "read", 200),
    # No body: a 400 past authentication (the scope is checked first).
    ("post", "/api/v1/maintenance", "write", 400),
    ("delete", "/api/v1/maintenance/none-such", "write", 404),
]
# What each presented token gets, by the scope a route needs.
EXPECTED = {
    "none": {"read": 401, "write": 401},
    "wrong": {"read": 401, "write": 401},
    "revoked": {"read": 401, "write": 401},
    "read": {"read": None, "write": 403},  # None: the route's own success
    "write": {"read": None, "write": None},
}


def presented(who: str, tokens: Tokens) -> dict[str, str]:
    value = {
        "none": None,
        "wrong": "sh_" + "x" * 43,
        "revoked": tokens.revoked,
        "read": tokens.read,
        "write": tokens.write,
    }[who]
    return bearer(value) if value else {}


@pytest.mark.parametrize(("method", "path", "scope", "success"), ROUTES)
@pytest.mark.parametrize("who", list(EXPECTED))
def test_each_route_answers_each_token_as_its_scope_allows(
    api_tokens: Tokens, who: str, method: str, path: str, scope: str, success: int
) -> None:
    make_dependency("api", status="down", status_since=timezone.now())  # to acknowledge
    # No body: what `curl -X POST` sends (the test client's default is an empty form).
    response = getattr(Client(), method)(
        path, content_type="application/json", **presented(who, api_tokens)
    )

    expected = EXPECTED[who][scope] or success
    assert response.status_code == expected, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    if expected == 401:
        assert response.json()["error"]
        # RFC 6750: a token was presented and refused, or none was.
        challenge = 'Bearer realm="seahealth"'
        if who != "none":
            challenge += ', error="invalid_token"'
        assert response["WWW-Authenticate"] == challenge
    if expected == 403:
        assert response.json() == {"error": "this token's scope is read: write is needed"}
        assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    # Only a write that happened is in the audit log (the fixture's revocation aside).
    written = AuditEntry.objects.exclude(method="CLI").count()
    assert written == (1 if method != "get" and expected == success < 400 else 0)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",  # another scheme
        "Bearer",  # no token
        "Bearer ",
        "bearer sh_unknown",
        "Bearer \u00e9\u00e8",  # Latin-1 text, as a header arrives
        "Bearer " + "x" * 5000,
    ],
)
def test_any_other_authorization_is_401(api_tokens: Tokens, authorization: str) -> None:
    response = Client().get("/api/v1/dependencies", HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="seahealth"')


def test_the_schema_needs_no_token() -> None:
    # A client generator reads it before it holds a token; it names no dependency.
    assert Client().get("/api/v1/openapi.json").status_code == 200
