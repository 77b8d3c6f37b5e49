"""Requests carrying control characters are refused, 400, before any view or query sees them.

PostgreSQL cannot hold a NUL in text ("A string literal cannot contain NUL (0x00)
characters"): a NUL in a path, a query parameter, a form field (django-axes and the admin
store what is posted) or a header (django-axes stores the User-Agent) that reaches a query
was a 500 there. No other control character belongs in a URL or a header either. A form's
values may hold tab, CR and LF (a text area); a header's, tab.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

_IN_URL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_IN_FORM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Header values arrive decoded as Latin-1: bytes 0x80-0x9f there are obs-text, not controls.
_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class ControlCharactersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = _where(request)
        if where is not None:
            return HttpResponseBadRequest(
                f"control characters are not allowed in {where}\n",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


def _where(request: HttpRequest) -> str | None:
    """Where the request carries a control character, or None."""
    if _IN_URL.search(request.path_info):
        return "the path"
    if _any(_IN_URL, request.GET.lists()):
        return "the query string"
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and _IN_HEADER.search(value):
            return "a header"
    form = request.method == "POST" and request.content_type in FORM_TYPES
    if form:
        # Read whole first, so that request.body stays readable after request.POST: the
        # API's views (django-ninja) read the body whatever its type, else a 500.
        request.body  # noqa: B018
    if form and _any(_IN_FORM, request.POST.lists()):
        return "the form"
    return None


def _any(pattern: re.Pattern[str], fields: Iterable[tuple[str, list[str]]]) -> bool:
    return any(
        pattern.search(name) or any(pattern.search(value) for value in values)
        for name, values in fields
    )
