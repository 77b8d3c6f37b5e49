"""Who may read the pages: anyone logged in, or everyone with SEAHEALTH_PUBLIC_DASHBOARD."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect


def viewer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if settings.SEAHEALTH_PUBLIC_DASHBOARD or request.user.is_authenticated:
            return view(request, *args, **kwargs)
        login = redirect_to_login(request.get_full_path())
        if request.htmx:
            # A poll after the session ended: send the whole page to the login, rather
            # than swap the login form into the live part.
            return HttpResponseClientRedirect(login["Location"])
        return login

    return guarded
