from __future__ import annotations

from django.urls import path

from dashboard import health, views

urlpatterns = [
    path("", views.status, name="sh-status"),
    path("health/dependencies", health.dependencies, name="sh-health-dependencies"),
    path("health/live", health.live, name="sh-health-live"),
    path("health/ready", health.ready, name="sh-health-ready"),
]
