"""`/dependencies/<name>/report?month=2026-11`: one dependency's month (probes/reports.py),
with links to the months before and after."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboard.access import viewer_required
from probes import reports
from probes.models import Dependency


@require_safe
@viewer_required
def report(request: HttpRequest, name: str) -> HttpResponse:
    # Archived ones too: their history stays readable, and a report of the months they
    # were probed in is part of it.
    row = get_object_or_404(Dependency, name=name)
    zone = reports.report_zone()
    now = timezone.now()
    current = reports.Month.holding(now, zone)
    asked = request.GET.get("month", "")
    try:
        # Without a month, this one so far: what a person opening the page wants to see.
        month = reports.read_month(asked, zone, now) if asked else current
    except reports.BadMonth as exc:
        return HttpResponseBadRequest(f"bad month: {exc}", content_type="text/plain")
    (figures,) = reports.compute(month, zone, Dependency.objects.filter(pk=row.pk), now)
    context = {
        "dependency": row,
        "month": month,
        "zone": zone.key,
        "figures": figures,
        "lines": reports.readable(figures),
        "so_far": month == current,
        "measured": reports.spelled(figures.known_seconds),
        "elapsed": reports.spelled(figures.elapsed),
        "in_maintenance": reports.spelled(figures.maintenance_seconds),
        "unknown": reports.spelled(figures.unknown_seconds),
        "incidents": reports.incidents_in(month, zone, row),
        "previous": month.previous() if month.previous().year >= reports.EARLIEST_YEAR else None,
        "next": month.next() if month < current else None,
    }
    return render(request, "dashboard/report.html", context)
