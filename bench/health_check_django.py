"""A plain Django project whose one URL is django-health-check's view with its database check.

bench/health_endpoints.py loads it as another row when django-health-check (4 or newer) is
installed; it is not a dependency of seahealth. The database is $DATABASE_URL's.
"""

from __future__ import annotations

import environ
from django.core.wsgi import get_wsgi_application
from django.urls import path

from bench import plain_django

plain_django.configure(
    __name__, apps=["health_check"], DATABASES={"default": environ.Env().db("DATABASE_URL")}
)

from health_check.views import HealthCheckView  # noqa: E402 - once settings are configured

urlpatterns = [
    path("health", HealthCheckView.as_view(checks=["health_check.checks.Database"])),
]
application = get_wsgi_application()
