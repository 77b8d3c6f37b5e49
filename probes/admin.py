"""The admin: a read-only window on what dependencies.yaml and the prober own.

Nothing here is editable: the declaration is changed in dependencies.yaml (and synced),
the state and history by the prober. Users and groups stay editable as usual.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from probes.models import BreakerTransition, Dependency, MaintenanceWindow, ProbeResult, Rollup
from probes.redaction import redact_spec


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Dependency)
class DependencyAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "kind",
        "status",
        "breaker_state",
        "critical",
        "group",
        "last_checked_at",
        "archived_at",
    )
    list_filter = (
        "status",
        "kind",
        "critical",
        "breaker_state",
        "group",
        ("archived_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("name", "group")
    exclude = ("spec", "recent")
    readonly_fields = ("declared_spec",)

    @admin.display(description="spec (secrets redacted)")
    def declared_spec(self, obj: Dependency) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(redact_spec(obj.spec), indent=2))


@admin.register(ProbeResult)
class ProbeResultAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "dependency", "result", "latency_ms", "error_class", "detail")
    list_filter = ("result", "error_class")
    search_fields = ("dependency__name",)
    list_select_related = ("dependency",)
    # The table is large: no COUNT(*) of it for every page.
    show_full_result_count = False
    ordering = ("-checked_at",)


@admin.register(BreakerTransition)
class BreakerTransitionAdmin(ReadOnlyAdmin):
    list_display = ("at", "dependency", "from_state", "to_state", "reason")
    list_filter = ("to_state",)
    search_fields = ("dependency__name", "reason")
    list_select_related = ("dependency",)
    ordering = ("-at", "-id")


@admin.register(Rollup)
class RollupAdmin(ReadOnlyAdmin):
    list_display = (
        "start",
        "period",
        "dependency",
        "count",
        "failures",
        "degraded",
        "latency_min",
        "latency_max",
    )
    list_filter = ("period",)
    search_fields = ("dependency__name",)
    list_select_related = ("dependency",)
    show_full_result_count = False
    ordering = ("-start",)


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "source",
        "start",
        "end",
        "rrule",
        "duration",
        "timezone",
        "archived_at",
    )
    list_filter = ("source", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("name",)
