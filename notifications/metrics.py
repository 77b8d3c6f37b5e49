"""The notifications' lines of /metrics: what each channel's attempts came to, and whether
the outbox keeps up. From three queries, like the rest of /metrics from the rows alone, so
that every process answers the same.

Labels carry only channel names and fixed words, never a URL or an error text.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min, Q
from django.utils import timezone

from notifications.models import UNFINISHED, Channel, Delivery, DeliveryState, Message, MessageState
from probes.exposition import Family, label_value, number

NOTIFICATIONS = Family(
    "seahealth_notifications_total",
    "counter",
    "Attempts to send a notification, by channel and outcome: sent, failed (tried again "
    "later) or dead (given up: refused for good, or failing past give_up_after).",
)
QUEUE_DEPTH = Family(
    "seahealth_notification_queue_depth",
    "gauge",
    "Events not yet told to a channel: waiting for their time, or in a message not yet sent.",
)
OLDEST_PENDING = Family(
    "seahealth_notification_oldest_pending_seconds",
    "gauge",
    "How long the oldest notification not yet sent has waited: a message since it was made, "
    "or an event since it was due; 0 when none waits.",
)
OUTCOMES = ("sent", "failed", "dead")


def exposition(now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    lines = [NOTIFICATIONS.header()]
    # Active channels, as for dependencies: an archived one's series end with it.
    channels = Channel.objects.filter(archived_at__isnull=True).order_by("name")
    for name, *totals in channels.values_list("name", *(f"{o}_total" for o in OUTCOMES)):
        labels = f'channel="{label_value(name)}"'
        lines += [
            f'{NOTIFICATIONS.name}{{{labels},outcome="{outcome}"}} {number(total)}\n'
            for outcome, total in zip(OUTCOMES, totals, strict=True)
        ]
    queue = Delivery.objects.filter(state__in=UNFINISHED).aggregate(
        depth=Count("id"),
        # Waiting past its due time: held back by group_wait, or behind an earlier delivery
        # of its channel still being tried. Not a child waiting for its parent's recovery
        # (depends_on): that wait is meant, however long the outage.
        oldest_due=Min(
            "due_at", filter=Q(state=DeliveryState.WAITING, due_at__lte=now, held_by="")
        ),
    )
    oldest_message = Message.objects.filter(state=MessageState.PENDING).aggregate(
        oldest=Min("created_at")
    )["oldest"]
    since = [moment for moment in (queue["oldest_due"], oldest_message) if moment is not None]
    waited = max((now - min(since)).total_seconds(), 0.0) if since else 0.0
    lines += [
        QUEUE_DEPTH.header(),
        f"{QUEUE_DEPTH.name} {number(queue['depth'])}\n",
        OLDEST_PENDING.header(),
        f"{OLDEST_PENDING.name} {number(waited)}\n",
    ]
    return lines
