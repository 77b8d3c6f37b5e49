from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter

from dashboard import acknowledgements, health, incidents, metrics, reports, views
from probes.fields import NAME


class DependencyName:
    """A name as dependencies.yaml allows it: anything else is a 404 without a query."""

    regex = NAME.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DependencyName, "dependency")

urlpatterns = [
    path("", views.status, name="sh-status"),
    path("dependencies/<dependency:name>/", views.dependency, name="sh-dependency"),
    path(
        "dependencies/<dependency:name>/acknowledge",
        acknowledgements.acknowledge_outage,
        name="sh-acknowledge",
    ),
    path("dependencies/<dependency:name>/report", reports.report, name="sh-report"),
    path("incidents/", incidents.incidents, name="sh-incidents"),
    path("incidents/<int:number>/", incidents.incident, name="sh-incident"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/dependencies", health.dependencies, name="sh-health-dependencies"),
    path("health/dependencies/<str:name>", health.dependency, name="sh-health-dependency"),
    path("health/live", health.live, name="sh-health-live"),
    path("health/ready", health.ready, name="sh-health-ready"),
    path("metrics", metrics.metrics, name="sh-metrics"),
]
