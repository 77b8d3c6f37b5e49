"""What dependencies that report in sent: each ping or event as received (Signal), and what
the prober made of them (InboundState)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from probes.models import Dependency


class Signal(models.Model):
    """One ping or event, stored before it is answered; applied after by the prober
    (inbound/applying.py), and pruned (events after a day: their ids are what replays are
    told apart by)."""

    class What(models.TextChoices):
        SUCCESS = "success"  # /ping/<token>, or exit status 0
        START = "start"  # /ping/<token>/start
        FAIL = "fail"  # /ping/<token>/fail, or an exit status not 0
        EVENT = "event"  # a webhook's event

    dependency = models.ForeignKey(Dependency, on_delete=models.CASCADE, related_name="signals")
    received_at = models.DateTimeField()
    what = models.CharField(max_length=10, choices=What.choices)
    exit_code = models.IntegerField(null=True, blank=True)
    # A failed job's report (its log's tail, at most 10 KB), or an event's raw JSON.
    body = models.TextField(blank=True)
    # An event's id (Standard Webhooks' webhook-id, a declared header, or the body's hash):
    # unique per dependency, so two deliveries of one event store one row whoever wins.
    event_id = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dependency", "event_id"],
                condition=Q(what="event"),
                name="inbound_signal_event_once",
            )
        ]
        indexes = [
            # The rate limit's count, and pruning.
            models.Index(fields=["dependency", "received_at"], name="inbound_signal_recent_idx"),
            # The prober's question: what is still to apply?
            models.Index(
                fields=["id"], condition=Q(applied_at__isnull=True), name="inbound_signal_new_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dependency_id}: {self.what} at {self.received_at}"


class InboundState(models.Model):
    """What a heartbeat or webhook last reported, as the prober applied it: what its kind's
    judge() reads every interval."""

    dependency = models.OneToOneField(
        Dependency, on_delete=models.CASCADE, related_name="inbound_state"
    )
    # SHA-256 of the heartbeat's ping token (hex): a ping finds its heartbeat by it, and the
    # token itself is never stored.
    token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    last_signal_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)  # a run begun, not yet ended
    failed = models.BooleanField(default=False)
    exit_code = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, blank=True)  # a webhook's: up, degraded, down
    detail = models.TextField(blank=True)
    run_time_ms = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.dependency_id}: last report {self.last_signal_at}"
