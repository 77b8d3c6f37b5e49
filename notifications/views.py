"""/notifications/: what each channel was sent and how every attempt went (dead messages
first, then those still being tried, then those sent), what was not sent and why, and the
channels. Behind the login, as the status page is.

A constant number of queries whatever the log holds: the channels with their counts, the
newest message ids of each state (three reads of the (state, created_at) index, not a sort
of the whole table), those messages with their events and newest attempts, and the events
not sent.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_safe

from dashboard.access import viewer_required
from notifications import display
from notifications.models import (
    Attempt,
    Channel,
    Delivery,
    DeliveryState,
    Message,
    MessageState,
)
from probes.excerpts import excerpt

# The page stays small however long the log: the newest this many messages, and events not
# sent. Per message, its first events (a group_wait message holds up to 100) and its newest
# attempts (one retried for a day has some 150).
MESSAGES_SHOWN = 200
UNSENT_SHOWN = 200
EVENTS_SHOWN = 20
ATTEMPTS_SHOWN = 25
# Dead first: what nobody was told is what a person comes here for.
STATE_ORDER = (MessageState.DEAD, MessageState.PENDING, MessageState.SENT)
NOT_SENT = (DeliveryState.WAITING, DeliveryState.CANCELLED, DeliveryState.SILENT)
# What the page reads of an event's dependency: not its large columns (spec, metrics_text).
EVENT_FIELDS = (
    "event",
    "event__type",
    "event__status",
    "event__previous_status",
    "event__since",
    "event__error",
    "event__dependency",
    "event__dependency__name",
    "event__dependency__kind",
)


@require_safe
@viewer_required
def notifications(request: HttpRequest) -> HttpResponse:
    channels = _channels()
    by_name = {channel.name: channel for channel in channels}
    chosen = request.GET.get("channel", "")
    if chosen and chosen not in by_name:
        declared = ", ".join(by_name) or "none is declared"
        return HttpResponseBadRequest(
            f"bad filter: channel: no channel is named {excerpt(chosen)} (channels: {declared})",
            content_type="text/plain; charset=utf-8",
        )
    channel = by_name.get(chosen)
    context = {
        "channels": channels,
        "channel": channel,
        # Not `messages`: django.contrib.messages' context processor has that name.
        "outbox": _messages(channel),
        "unsent": _unsent(channel),
        "refresh": settings.SEAHEALTH_REFRESH_SECONDS,
        "shown": {
            "messages": MESSAGES_SHOWN,
            "unsent": UNSENT_SHOWN,
            "events": EVENTS_SHOWN,
            "attempts": ATTEMPTS_SHOWN,
        },
    }
    # htmx asks for the log alone: when the filter changes, and on every poll.
    template = (
        "notifications/notifications-log.html"
        if request.htmx
        else "notifications/notifications.html"
    )
    return render(request, template, context)


def _count(rows: QuerySet[Any], by: str) -> Coalesce:
    """How many of `rows` (filtered on an OuterRef) there are, as a subquery."""
    counted = rows.order_by().values(by).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _channels() -> list[Channel]:
    """Every channel, the archived ones last (their history stays readable), with the
    messages it has pending and the events waiting for it."""
    rows = list(
        Channel.objects.annotate(
            pending=_count(
                Message.objects.filter(channel=OuterRef("pk"), state=MessageState.PENDING),
                "channel",
            ),
            waiting=_count(
                Delivery.objects.filter(channel=OuterRef("pk"), state=DeliveryState.WAITING),
                "channel",
            ),
        ).order_by(F("archived_at").asc(nulls_first=True), "name")
    )
    for row in rows:
        row.target = display.target(row.config)
    return rows


def _messages(channel: Channel | None) -> list[Message]:
    base = Message.objects.all() if channel is None else Message.objects.filter(channel=channel)
    ids: list[str] = []
    for state in STATE_ORDER:
        newest = base.filter(state=state).order_by("-created_at", "-id")
        ids += newest.values_list("id", flat=True)[:MESSAGES_SHOWN]
    ids = ids[:MESSAGES_SHOWN]
    events = Delivery.objects.select_related("event__dependency").only("message", *EVENT_FIELDS)
    rows = (
        Message.objects.filter(id__in=ids)
        .select_related("channel")
        .defer("payload", "channel__config")
        .annotate(
            events=_count(Delivery.objects.filter(message=OuterRef("pk")), "message"),
            tries=_count(Attempt.objects.filter(message=OuterRef("pk")), "message"),
        )
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=events.order_by("id")[:EVENTS_SHOWN],
                to_attr="shown_deliveries",
            ),
            Prefetch(
                "attempts_made",
                queryset=Attempt.objects.order_by("-at", "-id")[:ATTEMPTS_SHOWN],
                to_attr="shown_attempts",
            ),
        )
    )
    place = {id_: n for n, id_ in enumerate(ids)}
    rows = sorted(rows, key=lambda row: place[row.id])
    for row in rows:
        row.more_events = row.events - len(row.shown_deliveries)
        row.earlier_attempts = row.tries - len(row.shown_attempts)
    return rows


def _unsent(channel: Channel | None) -> list[Delivery]:
    """The newest events not sent: waiting for their time, cancelled, or silent."""
    rows = (
        Delivery.objects.filter(state__in=NOT_SENT)
        .select_related("channel", "event__dependency")
        .only(
            "state",
            "due_at",
            "cancelled_because",
            "tell",
            "channel",
            "channel__name",
            *EVENT_FIELDS,
        )
    )
    if channel is not None:
        rows = rows.filter(channel=channel)
    return list(rows.order_by("-id")[:UNSENT_SHOWN])
