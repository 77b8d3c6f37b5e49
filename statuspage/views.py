"""`/status/`: the public status page, for customers; live through htmx like `/`.

No login, whatever SEAHEALTH_PUBLIC_DASHBOARD says: it shows only what the public entries
let customers see (statuspage/overview.py), and links to nothing of the ops pages.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from statuspage import overview


@require_safe
@vary_on_headers("HX-Request")  # the page, or its live part alone: one URL, two answers
def public_status(request: HttpRequest) -> HttpResponse:
    context = {"overview": overview.build(), "refresh": settings.SEAHEALTH_REFRESH_SECONDS}
    template = "statuspage/status-live.html" if request.htmx else "statuspage/status.html"
    return render(request, template, context)
