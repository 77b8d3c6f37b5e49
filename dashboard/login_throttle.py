"""Login throttling with django-axes: whose attempt it is, and what a locked-out person reads.

Failed logins are counted per account and per address (settings: SEAHEALTH_LOGIN_*).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timeuntil


def username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The username a login tried, as django-axes counts and stores it: cut to what its
    column holds. Django's login forms do not bound it (a 3,000-character username reaches
    authenticate()), and PostgreSQL refuses a longer value: it was a 500 there."""
    field = get_user_model().USERNAME_FIELD
    value = (credentials or {}).get(field) if credentials else request.POST.get(field)
    if not isinstance(value, str):
        return value
    return value[: AccessAttempt._meta.get_field("username").max_length]


def client_address(request: HttpRequest) -> str | None:
    """The address a login came from.

    Without a trusted proxy (SEAHEALTH_TRUSTED_PROXY_HOPS=0), the peer's, REMOTE_ADDR. Behind
    N proxies, the entry of X-Forwarded-For the outermost one appended: each proxy appends
    the address it was reached from, so the Nth from the right; entries a client wrote
    itself are further left and never read. An entry that is not an address is not used.
    """
    hops = settings.SEAHEALTH_TRUSTED_PROXY_HOPS
    if hops:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if entries:
            address = _address(entries[-min(hops, len(entries))])
            if address is not None:
                return address
    return _address(request.META.get("REMOTE_ADDR", ""))


def _address(text: str) -> str | None:
    """An IP address, from `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """429, saying why and for how long (at most: the lock started with the last failure)."""
    lockout = settings.AXES_COOLOFF_TIME
    now = timezone.now()
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "lockout": timeuntil(now + lockout, now),
    }
    response = render(request, "registration/locked-out.html", context, status=429)
    response["Retry-After"] = str(int(lockout.total_seconds()))
    return response
