"""Tokens: shown once, kept as a hash, made and revoked by the command or the admin, and
every such write in the audit log."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from freezegun import freeze_time

from api import tokens
from api.models import ApiToken, AuditEntry, Scope
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def run(*arguments: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_token", *arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("scope", ["read", "write"])
def test_the_command_prints_the_token_once_and_keeps_only_its_hash(scope: str) -> None:
    out, err = run("ci-deploy", "--scope", scope)

    value = out.strip()
    assert value.startswith("sh_")
    assert len(value) > 40
    assert "shown once" in err
    token = ApiToken.objects.get(name="ci-deploy")
    assert token.scope == scope
    assert token.digest == hashlib.sha256(value.encode()).hexdigest()
    # The value is in no column of any row.
    assert value not in str(list(ApiToken.objects.values()))
    assert Client(**bearer(value)).get("/api/v1/dependencies").status_code == 200
    entry = AuditEntry.objects.get()
    assert (entry.who, entry.summary) == ("command", f"created {scope} token 'ci-deploy'")


def test_two_tokens_never_share_a_value() -> None:
    values = {run(f"t{n}", "--scope", "read")[0] for n in range(20)}

    assert len(values) == 20


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["ci", "--scope", "admin"], "invalid choice: 'admin'"),
        (["ci"], "--scope read|write is needed"),
        (["ci", "--scope", "read"], "a token named 'ci' exists already"),
        (["bad name", "--scope", "read"], "NAME: letters, digits"),
        (["x" * 101, "--scope", "read"], "NAME: letters, digits"),
        (["nobody", "--revoke"], "no token named 'nobody'"),
    ],
)
def test_the_command_refuses_with_a_reason(arguments: list[str], error: str) -> None:
    tokens.create("ci", Scope.READ)

    with pytest.raises(CommandError, match=error):
        run(*arguments)

    assert ApiToken.objects.count() == 1


def test_revoke_refuses_the_token_at_once_and_is_audited() -> None:
    value = run("ci", "--scope", "write")[0].strip()

    out, _ = run("ci", "--revoke")

    assert out == "revoked the token 'ci'\n"
    response = Client(**bearer(value)).get("/api/v1/dependencies")
    assert response.status_code == 401
    assert ApiToken.objects.get().revoked_at is not None
    assert AuditEntry.objects.filter(summary="revoked token 'ci'", who="command").exists()
    with pytest.raises(CommandError, match="revoked already"):
        run("ci", "--revoke")


def test_last_use_is_written_at_most_once_a_minute() -> None:
    _, value = tokens.create("ci", Scope.READ)
    client = Client(**bearer(value))
    seen = []
    with freeze_time("2026-11-23 10:00:00") as clock:
        for step in (0, 30, 31, 5):  # seconds after the previous request
            clock.tick(timedelta(seconds=step))
            client.get("/api/v1/dependencies")
            seen.append(ApiToken.objects.get().last_used_at.strftime("%H:%M:%S"))

    assert seen == ["10:00:00", "10:00:00", "10:01:01", "10:01:01"]


@pytest.fixture
def admin_client_(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root"))
    return client


def test_the_admin_revokes_tokens_and_the_audit_log_says_who(admin_client_: Client) -> None:
    ci, ci_value = tokens.create("ci", Scope.WRITE)
    _, other_value = tokens.create("other", Scope.READ)

    response = admin_client_.post(
        "/admin/api/apitoken/", {"action": "revoke", "_selected_action": [ci.pk]}
    )

    assert response.status_code == 302
    assert Client(**bearer(ci_value)).get("/api/v1/dependencies").status_code == 401
    assert Client(**bearer(other_value)).get("/api/v1/dependencies").status_code == 200
    entry = AuditEntry.objects.get(summary="revoked token 'ci'")
    assert (entry.who, entry.method, entry.path) == ("user root", "POST", "/admin/api/apitoken/")
    # The log is shown, and nothing of it can be changed there.
    page = admin_client_.get("/admin/api/auditentry/")
    assert "revoked token &#x27;ci&#x27;" in page.content.decode()
    assert admin_client_.get("/admin/api/auditentry/add/").status_code == 403
    assert admin_client_.post(f"/admin/api/auditentry/{entry.pk}/delete/").status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_admin_never_shows_a_tokens_digest(admin_client_: Client) -> None:
    token, _ = tokens.create("ci", Scope.WRITE)

    page = admin_client_.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()

    assert "ci" in page
    assert token.digest not in page
