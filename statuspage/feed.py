"""`/status/feed.atom`: the status changes of the public entries, as an Atom 1.0 feed.

Its events are the incidents recording opens and closes (probes/incidents.py): "Payments
is down" when one opens, "Payments recovered after 12 min" when it closes. They are rows
written as statuses change, never recomputed, so an entry keeps its id and its time. A
dependency that is only degraded has no incident, and no entry here. Nothing internal: the
title (display name, or name), the times, and a link to /status/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from dashboard.formatting import lasted
from probes.models import Incident
from statuspage.overview import public_rows, title

ENTRIES = 50
FEED_TITLE = "Service status"


@dataclass(frozen=True)
class Change:
    incident: int
    title: str
    at: datetime
    down: bool  # went down; else recovered
    started_at: datetime


def changes(limit: int = ENTRIES) -> list[Change]:
    """The newest `limit` changes of the public entries, newest first: three queries."""
    titles = {row.id: title(row) for row in public_rows()}
    incidents = Incident.objects.filter(dependency_id__in=titles)
    fields = ("id", "dependency_id", "started_at", "ended_at")
    # The newest openings and the newest closings: an old incident may have closed lately.
    opened = incidents.order_by("-started_at", "-id").values_list(*fields)[:limit]
    closed = incidents.filter(ended_at__isnull=False).order_by("-ended_at", "-id")
    found = [Change(pk, titles[dep], start, True, start) for pk, dep, start, _ in opened]
    found += [
        Change(pk, titles[dep], end, False, start)
        for pk, dep, start, end in closed.values_list(*fields)[:limit]
    ]
    found.sort(key=lambda change: (change.at, change.incident, not change.down), reverse=True)
    return found[:limit]


def _headline(change: Change) -> str:
    if change.down:
        return f"{change.title} is down"
    return f"{change.title} recovered after {lasted(change.started_at, change.at)}"


def _summary(change: Change) -> str:
    if change.down:
        return f"{change.title} has been down since {_utc(change.at)}."
    return f"{change.title} is back since {_utc(change.at)}, down from {_utc(change.started_at)}."


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@require_safe
@cache_control(public=True, max_age=60)
def status_feed(request: HttpRequest) -> HttpResponse:
    page = request.build_absolute_uri(reverse("sh-public-status"))
    domain, _ = split_domain_port(request.get_host())
    feed = Atom1Feed(
        title=FEED_TITLE,
        link=page,
        description="",
        feed_url=request.build_absolute_uri(request.path),
        feed_guid=f"tag:{domain},2026:status",
        author_name=FEED_TITLE,
        language="en",
    )
    for change in changes():
        feed.add_item(
            title=_headline(change),
            link=page,
            # The summary is HTML (type="html"): a display name is text, escaped as such.
            description=escape(_summary(change)),
            unique_id=(
                f"tag:{domain},{change.started_at:%Y-%m-%d}:incident/{change.incident}/"
                f"{'down' if change.down else 'recovered'}"
            ),
            pubdate=change.at,
            updateddate=change.at,
        )
    response = HttpResponse(content_type=feed.content_type)
    feed.write(response, "utf-8")
    return response
