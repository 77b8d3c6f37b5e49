"""Badges of the public entries: `/badges/<name>/status.svg`, `.../uptime-30d.svg` (24h,
7d), `/badges/service.svg`, and shields.io's endpoint JSON at `/badges/<name>.json`.

Only for active entries declared `public: true`: any other name, private or missing, gets
the same 404, so a badge URL tells nobody which private names exist. The label is the
display name (or the name); the message the status or the uptime, nothing else of the row.
Every answer may be cached for a minute, by browsers and by the proxies between.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from dashboard.formatting import percent
from probes.models import Dependency
from statuspage import badge_drawing
from statuspage.overview import public_rows, title
from statuspage.wording import of_service, of_status

UPTIME_WINDOWS = ("24h", "7d", "30d")
NOT_PUBLIC = "no public badge of that name"
SVG = "image/svg+xml; charset=utf-8"
# What an uptime badge's colour says, from the best share down (shields.io's custom).
UPTIME_COLORS = ((0.999, "brightgreen"), (0.99, "green"), (0.95, "yellow"), (0.0, "red"))


def _badge(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET or HEAD; cacheable for 60 s, the 404 too (it is the same for every hidden name)."""
    return require_safe(cache_control(public=True, max_age=60)(view))


def _public(name: str) -> Dependency | None:
    return (
        Dependency.objects.active()
        .filter(public=True, name=name)
        .only("id", "name", "display_name", "status", "uptime_24h", "uptime_7d", "uptime_30d")
        .first()
    )


def _not_public() -> HttpResponse:
    return HttpResponseNotFound(NOT_PUBLIC, content_type="text/plain; charset=utf-8")


def _svg(label: str, message: str, color: str) -> HttpResponse:
    return HttpResponse(badge_drawing.draw(label, message, color), content_type=SVG)


def uptime_color(share: float | None) -> str:
    if share is None:
        return "lightgrey"
    return next(color for floor, color in UPTIME_COLORS if share >= floor)


@_badge
def status_badge(request: HttpRequest, name: str) -> HttpResponse:
    row = _public(name)
    if row is None:
        return _not_public()
    wording = of_status(row.status)
    return _svg(title(row), wording.words, wording.color)


@_badge
def uptime_badge(request: HttpRequest, name: str, window: str) -> HttpResponse:
    row = _public(name)
    if row is None:
        return _not_public()
    share = getattr(row, f"uptime_{window}")
    return _svg(f"{title(row)} uptime {window}", percent(share), uptime_color(share))


@_badge
def service_badge(request: HttpRequest) -> HttpResponse:
    wording = of_service((row.status, row.critical) for row in public_rows())
    return _svg("status", wording.words, wording.color)


@_badge
def shields_endpoint(request: HttpRequest, name: str) -> HttpResponse:
    """shields.io's endpoint badge: https://img.shields.io/endpoint?url=<this URL>."""
    row = _public(name)
    if row is None:
        return _not_public()
    wording = of_status(row.status)
    content = {
        "schemaVersion": 1,
        "label": title(row),
        "message": wording.words,
        "color": wording.color,
    }
    return JsonResponse(content, json_dumps_params={"ensure_ascii": False})
