"""Pages for people: the status page (live through htmx) and a page per dependency."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import yaml
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from dashboard import board, charts, error_budgets, history_bars, live_state, timeline
from dashboard.access import viewer_required
from dashboard.formatting import NO_VALUE, uptimes
from probes import maintenance_reader, rollups, tls
from probes.dependency_spec import DependencySpec
from probes.models import Dependency, Period, Rollup, StateVersion

RESULTS_PER_PAGE = 50
INCIDENTS_SHOWN = 20


@require_safe
@viewer_required
def status(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    path = request.get_full_path()
    if request.htmx:
        shown = request.headers.get(live_state.HEADER, "")
        if shown and live_state.unchanged(shown, now):
            # A poll of a live part still true: nothing to swap (dashboard/live_state.py).
            return _nothing_to_swap()
        shared = live_state.shared(path)
        if shared is not None:
            # Rendered for another viewer of this view a moment ago: theirs, or nothing new.
            mine = shown and shared.stamp == shown
            return _nothing_to_swap() if mine else HttpResponse(shared.content)
    form = board.FilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(f"bad filter: {_errors(form)}", content_type="text/plain")
    # Read before the board: a state written while it is built shows at the next poll.
    token = StateVersion.current()
    built = board.build(form.cleaned_data)
    context = {
        "board": built,
        "shown": live_state.stamp(token, built, now),
        "form": form,
        "refresh": settings.SEAHEALTH_REFRESH_SECONDS,
        # The budget column's header: a link to the other order, the filters kept.
        "by_budget_url": _sorted(request, board.BY_BUDGET),
        "problems_first_url": _sorted(request, ""),
    }
    if not request.htmx:
        return render(request, "dashboard/status.html", context)
    # htmx asks for the live part alone: on every poll, and when a filter changes.
    response = render(request, "dashboard/status-live.html", context)
    live_state.keep(path, context["shown"], response.content)
    return response


def _nothing_to_swap() -> HttpResponse:
    response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@viewer_required
def dependency(request: HttpRequest, name: str) -> HttpResponse:
    row = get_object_or_404(Dependency, name=name)  # archived ones too: history stays readable
    window = request.GET.get("window")
    if window is not None and window not in rollups.CHART_WINDOWS:
        return HttpResponseBadRequest(
            f"bad window {window!r}: one of {', '.join(rollups.CHART_WINDOWS)}",
            content_type="text/plain",
        )
    results = Paginator(row.results.order_by("-checked_at", "-id"), RESULTS_PER_PAGE)
    now = timezone.now()
    window = window or _fitting_window(row.id, now)
    context = {
        "dependency": row,
        "window": window,
        "windows": list(rollups.CHART_WINDOWS),
        "slo": error_budgets.section(row, now),
        "chart": charts.latency_chart(rollups.series(row.id, window, now), window),
        "history": history_bars.render(
            history_bars.daily_uptimes([row.id], now=now)[row.id], row.name
        ),
        "uptimes": uptimes(row),
        "timeline": timeline.entries(row, now),
        "maintenance": None if row.archived_at else maintenance_reader.now_in_effect(now).of(row),
        "incidents": row.incidents.all()[:INCIDENTS_SHOWN],
        "acknowledgement": (
            row.acknowledgements.order_by("-at", "-id").first() if row.acknowledged_at else None
        ),
        "can_acknowledge": request.user.has_perm("probes.acknowledge_dependency"),
        **_related(row),
        "results": results.get_page(request.GET.get("page")),
        "observations": _observations(row.last_observations),
        "certificate_expires": tls.not_after(row.last_observations),
        "declaration": yaml.safe_dump(
            DependencySpec.from_row(row).declaration(),
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=None,
        ),
    }
    return render(request, "dashboard/dependency.html", context)


def _fitting_window(dependency_id: int, now: datetime) -> str:
    """The shortest chart window that holds all the data there is (1h on a new install):
    at most a query per window, each a look-up in the rollups' unique index."""
    buckets = Rollup.objects.filter(dependency_id=dependency_id)
    *shorter, longest = rollups.CHART_WINDOWS.items()
    for window, (period, length, per_point) in shorter:
        since = now - length + rollups.PERIOD_LENGTH[period] * per_point
        # Minute buckets are pruned after a day or so: an hour bucket wholly before `since`
        # also says there is older data.
        hour = rollups.bucket_start(since, Period.HOUR)
        if (
            not buckets.filter(Q(period=period) | Q(period=Period.HOUR, start__lt=hour))
            .filter(start__lt=since)
            .exists()
        ):
            return window
    return longest[0]


def _sorted(request: HttpRequest, sort: str) -> str:
    query = request.GET.copy()
    query.pop("sort", None)
    if sort:
        query["sort"] = sort
    return f"?{query.urlencode()}" if query else request.path


def _related(row: Dependency) -> dict[str, list[tuple[str, str]]]:
    """(name, status) of what it depends on, and of what depends on it."""
    active = Dependency.objects.active()
    parents = dict(active.filter(name__in=row.depends_on).values_list("name", "status"))
    # JSON containment is not SQLite's: the few rows that depend on anything, read through.
    children = [
        (name, status)
        for name, status, depends_on in active.exclude(depends_on=[])
        .values_list("name", "status", "depends_on")
        .order_by("name")
        if row.name in depends_on
    ]
    return {
        "depends_on": [(name, parents.get(name, "archived")) for name in row.depends_on],
        "depended_on_by": children,
    }


def _observations(observations: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for key, value in observations.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = " ".join(map(str, value)) or NO_VALUE
        elif not isinstance(value, str):
            value = json.dumps(value)
        shown.append((key.replace("_", " "), value))
    return shown


def _errors(form: board.FilterForm) -> str:
    return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
