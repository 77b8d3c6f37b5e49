"""A bare Django app: one view answering {"status": "pass"}; no database (bench/plain_django.py).

What Django and gunicorn cost by themselves: bench/health_endpoints.py measures seahealth's
health endpoints against it. Serve it with `python -m gunicorn bench.bare_django`.

/health/sized answers a constant JSON of BENCH_SIZED_BYTES bytes (as large as seahealth's
/health/dependencies answer): what moving that many bytes costs, apart from making them.
"""

from __future__ import annotations

import json
import os

from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_safe

from bench import plain_django

plain_django.configure(__name__, DATABASES={})


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "pass"})


SIZED = json.dumps({"status": "pass", "padding": ""}).encode()
_PADDING = int(os.environ.get("BENCH_SIZED_BYTES", "0")) - len(SIZED)
SIZED = SIZED.replace(b'""', b'"' + b"x" * _PADDING + b'"')


@require_safe
def sized(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SIZED, content_type="application/json")


urlpatterns = [path("health", health), path("health/sized", sized)]
application = get_wsgi_application()
