"""The notifications' tables: what is declared (channels, routes) and the outbox.

The outbox, from fact to what is sent:
- Event: one thing to tell of one dependency (its status changed, it is still down, its
  SLO's burn alert changed) or a test. Recording writes it in the transaction that changes
  the status; the error budgets' refresh in the one that changes the alert.
- Delivery: one event to one channel; written with the event, one per channel routed.
  Per dependency and channel, deliveries are told in id order: one is taken only once every
  earlier one is sent, dead or cancelled.
- Message: what a sender sends to a channel, one delivery or (group_wait) several. Its id is
  the webhook-id, the same on every attempt; its payload is built once, when it is formed.
- Attempt: each try to send a message, and how it went.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from probes.models import Dependency


class Channel(models.Model):
    """Where notifications go: declared in dependencies.yaml, synced; archived when removed."""

    name = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=20)  # webhook | email | slack | pagerduty
    # The type's fields as declared: ${VAR} placeholders are kept, never their values.
    config = models.JSONField()
    group_wait = models.DurationField()  # zero: each delivery is a message of its own
    give_up_after = models.DurationField()  # a message failing this long is dead
    declared_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # Counters for /metrics (seahealth_notifications_total), that only grow.
    sent_total = models.PositiveBigIntegerField(default=0)
    failed_total = models.PositiveBigIntegerField(default=0)
    dead_total = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Route(models.Model):
    """Which dependencies' events go to which channels; every matching route notifies."""

    position = models.PositiveIntegerField(unique=True)  # its place in the file, from 0
    # {"critical": bool, "group": [..], "name": [..], "kind": [..]}: all must hold.
    match = models.JSONField(default=dict, blank=True)
    channels = models.JSONField()  # channel names
    on = models.JSONField()  # the statuses whose start is told
    notify_after = models.DurationField()
    repeat_every = models.DurationField(null=True, blank=True)  # None: no reminders

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"route {self.position + 1}"


class EventType(models.TextChoices):
    STATUS_CHANGED = "seahealth.status_changed"
    REMINDER = "seahealth.reminder"
    ACKNOWLEDGED = "seahealth.acknowledged"
    SLO_BURN = "seahealth.slo_burn"
    TEST = "seahealth.test"


class Event(models.Model):
    """One thing to tell: a dependency's status changed, is still down, its SLO's burn alert
    changed (status: page, ticket or resolved), or a test."""

    dependency = models.ForeignKey(
        Dependency, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    type = models.CharField(max_length=30, choices=EventType.choices)
    status = models.CharField(max_length=10)
    previous_status = models.CharField(max_length=10, blank=True)
    since = models.DateTimeField()  # when the status began
    error = models.CharField(max_length=500, blank=True)  # scrubbed, as the row keeps it
    created_at = models.DateTimeField()
    # An acknowledgement's: who, and what they wrote.
    acknowledged_by = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=500, blank=True)
    # A burn alert's: its rule, burn rates and budget left when it changed (slo_burns.py).
    figures = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["dependency", "since"], name="notif_event_dep_since_idx")]

    def __str__(self) -> str:
        return f"{self.dependency_id} {self.status} since {self.since:%Y-%m-%d %H:%M:%S}"


class MessageState(models.TextChoices):
    PENDING = "pending"  # to be sent: at next_attempt_at, or being sent until then
    SENT = "sent"
    DEAD = "dead"  # refused for good, or failing past the channel's give_up_after


def message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class Message(models.Model):
    """What a channel is sent: one delivery, or several gathered over group_wait."""

    id = models.CharField(primary_key=True, max_length=40, default=message_id, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages")
    type = models.CharField(max_length=30, choices=EventType.choices)
    payload = models.JSONField()  # the body (notifications/payloads.py); no secret in it
    state = models.CharField(max_length=10, choices=MessageState.choices)
    created_at = models.DateTimeField()
    # Pending: when it may be tried next. A sender that takes it moves this past its own
    # deadline (the lease): if it dies before marking the outcome, another sends it again.
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)  # sent or dead

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="notif_message_due_idx",
            ),
            models.Index(fields=["state", "created_at"], name="notif_message_state_idx"),
        ]

    def __str__(self) -> str:
        return self.id


class DeliveryState(models.TextChoices):
    WAITING = "waiting"  # not in a message yet: due at due_at, after earlier ones
    QUEUED = "queued"  # in a message not yet sent
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"  # not worth telling any more: see `cancelled_because`
    # Its status stood (lasted notify_after) but is not one its route tells (`on`): not sent,
    # yet the channel's next outage or degradation is compared with it (outbox.Known).
    SILENT = "silent"


UNFINISHED = (DeliveryState.WAITING, DeliveryState.QUEUED)
# The deliveries whose status the channel has been told, or would have been (silent).
STOOD = (DeliveryState.QUEUED, DeliveryState.SENT, DeliveryState.DEAD, DeliveryState.SILENT)


class Delivery(models.Model):
    """One event to one channel: the outbox's row, written with the event.

    Every status change of a dependency a channel is routed for has one, told or not (`tell`):
    a channel told `down` whose route leaves `up` out must still see the recovery, or the
    next outage would look like no change."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    # The event's, here too: the order is kept per dependency and channel.
    dependency = models.ForeignKey(
        Dependency, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=10, choices=DeliveryState.choices)
    tell = models.BooleanField(default=True)  # False: its route's `on` leaves this status out
    due_at = models.DateTimeField()  # the status's start + the route's notify_after
    repeat_every = models.DurationField(null=True, blank=True)
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    # Sent, down, and to be reminded of then if still down.
    remind_at = models.DateTimeField(null=True, blank=True)
    cancelled_because = models.CharField(max_length=200, blank=True)
    # Waiting because this dependency it depends on is down (depends_on): its own news
    # waits for the parent's recovery, and goes then if it still holds.
    held_by = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(state="waiting"),
                name="notif_delivery_due_idx",
            ),
            models.Index(fields=["dependency", "channel", "id"], name="notif_delivery_order_idx"),
            models.Index(
                fields=["remind_at"],
                condition=Q(remind_at__isnull=False),
                name="notif_delivery_remind_idx",
            ),
            # /metrics' queue depth and oldest pending, on every scrape: the few rows not
            # yet told, never the table.
            models.Index(
                fields=["due_at"],
                condition=Q(state__in=["waiting", "queued"]),
                name="notif_delivery_unfinished_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} to {self.channel_id}: {self.state}"


class AttemptOutcome(models.TextChoices):
    SENT = "sent"
    FAILED = "failed"  # tried again later
    DEAD = "dead"


class Attempt(models.Model):
    """One try to send a message."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempts_made")
    at = models.DateTimeField()
    duration_ms = models.FloatField()
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.message_id} at {self.at:%H:%M:%S}: {self.outcome}"
