"""`/incidents/`: every period a dependency spent down, open ones first, by group and month;
and a page per incident with what happened inside it."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from dashboard.access import viewer_required
from probes import incidents as incident_history
from probes.models import Incident

PER_PAGE = 50


class IncidentFilter(forms.Form):
    group = forms.CharField(max_length=100, required=False)
    month = forms.RegexField(
        regex=incident_history.MONTH,
        required=False,
        error_messages={"invalid": "a month is written YYYY-MM, such as 2026-11"},
    )


@require_safe
@viewer_required
def incidents(request: HttpRequest) -> HttpResponse:
    form = IncidentFilter(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{f}: {' '.join(e)}" for f, e in form.errors.items())
        return HttpResponseBadRequest(f"bad filter: {problems}", content_type="text/plain")
    data = form.cleaned_data
    rows = incident_history.listed(group=data["group"], month=data["month"])
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    groups = (
        Incident.objects.exclude(dependency__group="")
        .values_list("dependency__group", flat=True)
        .distinct()
        .order_by("dependency__group")
    )
    context = {"page": page, "form": form, "groups": list(groups)}
    return render(request, "dashboard/incidents.html", context)


@require_safe
@viewer_required
def incident(request: HttpRequest, number: int) -> HttpResponse:
    row = get_object_or_404(Incident.objects.select_related("dependency"), pk=number)
    context = {
        "incident": row,
        "transitions": incident_history.transitions(row),
        "deliveries": incident_history.notifications(row),
        "acknowledgements": row.acknowledgements.all(),
    }
    return render(request, "dashboard/incident.html", context)
