"""The admin: a read-only window on the channels and routes dependencies.yaml declares, and
on the messages the senders keep. Nothing is editable: the declaration is changed in the
file (and synced), the messages by the senders."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from notifications import display
from notifications.models import Attempt, Channel, Message, Route
from probes.admin import ReadOnlyAdmin
from probes.redaction import redact_spec


@admin.register(Channel)
class ChannelAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "type",
        "target",
        "sent_total",
        "failed_total",
        "dead_total",
        "archived_at",
    )
    list_filter = ("type", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("name",)
    exclude = ("config",)
    readonly_fields = ("declared_config",)

    @admin.display(description="sends to")
    def target(self, obj: Channel) -> str:
        return display.target(obj.config)

    @admin.display(description="config (secrets redacted)")
    def declared_config(self, obj: Channel) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(redact_spec(obj.config), indent=2))


@admin.register(Route)
class RouteAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "matches", "channels", "on", "notify_after", "repeat_every")

    @admin.display(description="match")
    def matches(self, obj: Route) -> str:
        return display.route_match(obj.match)


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("at", "outcome", "status_code", "error", "duration_ms", "next_attempt_at")
    readonly_fields = fields
    ordering = ("-at", "-id")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "channel",
        "type",
        "state",
        "created_at",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
    )
    list_filter = ("state", "type", "channel")
    search_fields = ("id", "channel__name")
    list_select_related = ("channel",)
    show_full_result_count = False
    ordering = ("-created_at",)
    inlines = (AttemptInline,)
