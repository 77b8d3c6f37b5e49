"""The admin: tokens (revoked here, made with `create_api_token`) and the audit log, read-only.

A token is not made here: its value must be shown once, to the one who made it, and the
command does that. Nothing of the audit log can be changed or deleted from a page.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from api import audit, tokens
from api.models import ApiToken, AuditEntry
from probes.admin import ReadOnlyAdmin


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("name", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name",)
    exclude = ("digest",)
    actions = ("revoke",)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        # Revoking changes a token: those who may change tokens may revoke them.
        return request.user.has_perm("api.change_apitoken")

    @admin.action(description="Revoke the selected tokens", permissions=("revoke",))
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = tokens.revoke(list(queryset), audit.who(request), request.method, request.path)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "who", "method", "path", "summary")
    list_filter = ("method",)
    search_fields = ("who", "path", "summary")
    date_hierarchy = "at"
