"""`/status/feed.atom`: the status changes of the public entries, as an Atom 1.0 feed.

Its events are the status transitions recording writes as statuses change (up, degraded,
down; probes.models.StatusTransition), never recomputed, so an entry keeps its id and its
time: "Payments is down", "Payments is degraded", "Payments recovered after 12 min". The
first status an entry takes is news only when it is not up. Nothing internal: the title
(display name, or name), the times, and a link to /status/.
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
from probes.models import StatusTransition
from probes.statuses import Status
from statuspage.overview import public_rows, title
from statuspage.wording import of_status

ENTRIES = 50
FEED_TITLE = "Service status"


@dataclass(frozen=True)
class Change:
    id: int
    title: str
    at: datetime
    status: str  # what it became
    trouble_since: datetime | None = None  # a recovery: since when it was not up, if known


def changes(limit: int = ENTRIES) -> list[Change]:
    """The newest `limit` changes of the public entries, newest first: two queries."""
    titles = {row.id: title(row) for row in public_rows()}
    # One more row per entry could tell when its oldest shown recovery's trouble began;
    # without it, that recovery says no duration.
    rows = list(
        StatusTransition.objects.filter(dependency_id__in=titles)
        .exclude(from_status=Status.UNKNOWN, to_status=Status.UP)
        .order_by("-at", "-id")
        .values_list("id", "dependency_id", "at", "from_status", "to_status")[:limit]
    )
    found = []
    for i, (pk, dependency, at, _, to) in enumerate(rows):
        since = _trouble_since(rows[i + 1 :], dependency) if to == Status.UP else None
        found.append(Change(pk, titles[dependency], at, to, since))
    return found


def _trouble_since(older: list[tuple], dependency: int) -> datetime | None:
    """When `dependency` last left up, among the older changes (newest first)."""
    for _, each, at, before, _ in older:
        if each == dependency and before in (Status.UP, Status.UNKNOWN):
            return at
    return None


def _headline(change: Change) -> str:
    if change.status != Status.UP:
        return f"{change.title} is {of_status(change.status).words}"
    if change.trouble_since is None:
        return f"{change.title} is operational again"
    return f"{change.title} recovered after {lasted(change.trouble_since, change.at)}"


def _summary(change: Change) -> str:
    if change.status != Status.UP:
        return f"{change.title} has been {of_status(change.status).words} since {_utc(change.at)}."
    return f"{change.title} is operational again since {_utc(change.at)}."


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
            unique_id=f"tag:{domain},{change.at:%Y-%m-%d}:status-change/{change.id}",
            pubdate=change.at,
            updateddate=change.at,
        )
    response = HttpResponse(content_type=feed.content_type)
    feed.write(response, "utf-8")
    return response
