"""The audit log: every write, through the API or a page, as who, what and when."""

from __future__ import annotations

from django.http import HttpRequest

from api.models import AuditEntry

PATH_LENGTH = AuditEntry._meta.get_field("path").max_length
SUMMARY_LENGTH = AuditEntry._meta.get_field("summary").max_length


def who(request: HttpRequest) -> str:
    """Who sent the request: its API token, else its user."""
    token = getattr(request, "auth", None)
    if token is not None:
        return f"token {token.name}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user {user.get_username()}"
    return "anonymous"


def record(who: str, method: str, path: str, summary: str) -> AuditEntry:
    """An entry; call it in the write's transaction, so that neither is kept without the other."""
    return AuditEntry.objects.create(
        who=who, method=method, path=path[:PATH_LENGTH], summary=summary[:SUMMARY_LENGTH]
    )


def record_request(request: HttpRequest, summary: str) -> AuditEntry:
    return record(who(request), request.method or "", request.path, summary)
