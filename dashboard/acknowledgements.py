"""Acknowledging an outage from its page: a POST (CSRF) by a user with the permission
`probes.acknowledge_dependency`, kept in the audit log."""

from __future__ import annotations

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from api import audit
from dashboard.access import viewer_required
from probes.acknowledgements import NOTE_LENGTH, NotDown, acknowledge
from probes.models import Dependency

PERMISSION = "probes.acknowledge_dependency"


class AcknowledgeForm(forms.Form):
    note = forms.CharField(max_length=NOTE_LENGTH, required=False, strip=True)


@require_POST
@viewer_required
def acknowledge_outage(request: HttpRequest, name: str) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        return HttpResponseForbidden(
            "acknowledging needs the permission probes.acknowledge_dependency",
            content_type="text/plain",
        )
    get_object_or_404(Dependency, name=name, archived_at__isnull=True)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{f}: {' '.join(e)}" for f, e in form.errors.items())
        return HttpResponseBadRequest(f"bad acknowledgement: {problems}", content_type="text/plain")
    note = form.cleaned_data["note"]
    try:
        with transaction.atomic():
            acknowledge(name, request.user.get_username(), note)
            audit.record_request(request, f"acknowledged {name}" + (f": {note}" if note else ""))
    except NotDown as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    return redirect("sh-dependency", name=name)
