from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("dashboard.urls")),
    path("", include("notifications.urls")),
    path("", include("api.urls")),
    path("", include("statuspage.urls")),
    path("", include("inbound.urls")),
    path("admin/", admin.site.urls),
]
