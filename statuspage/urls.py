from __future__ import annotations

from django.urls import path, register_converter

from dashboard.urls import DependencyName
from statuspage import badges, feed, views


class UptimeWindow:
    regex = "|".join(badges.UPTIME_WINDOWS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


# Names as dependencies.yaml allows them: anything else is a 404 without a query.
register_converter(DependencyName, "public_name")
register_converter(UptimeWindow, "uptime_window")

urlpatterns = [
    path("status/", views.public_status, name="sh-public-status"),
    path("status/feed.atom", feed.status_feed, name="sh-status-feed"),
    path("badges/service.svg", badges.service_badge, name="sh-badge-service"),
    path("badges/<public_name:name>/status.svg", badges.status_badge, name="sh-badge-status"),
    path(
        "badges/<public_name:name>/uptime-<uptime_window:window>.svg",
        badges.uptime_badge,
        name="sh-badge-uptime",
    ),
    path("badges/<public_name:name>.json", badges.shields_endpoint, name="sh-badge-shields"),
]
