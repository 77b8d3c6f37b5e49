"""Pages for people. The full status page comes with its own issue; this is the plain list."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from probes.models import Dependency
from probes.statuses import Status, service_status


@require_GET
def status(request: HttpRequest) -> HttpResponse:
    dependencies = list(Dependency.objects.active().order_by("group", "name"))
    overall = service_status((Status(d.status), d.critical) for d in dependencies)
    return render(
        request,
        "dashboard/status.html",
        {"dependencies": dependencies, "overall": overall},
    )
