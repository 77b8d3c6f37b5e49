"""Sends what the outbox holds: take (reminders, messages formed, messages claimed), deliver
(the network only, concurrently, each attempt bounded by SEAHEALTH_NOTIFY_TIMEOUT), settle
(the outcome marked: sent, tried again later, or dead).

At least once: a message is marked sent only after its receiver accepted it. A sender that
dies between the two leaves the message claimed until its lease ends; then any sender sends
it again, with the same id, for the receiver to deduplicate on. runprobes takes, delivers and
settles every second between ticks; with Celery, beat sends `send_notifications`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.utils import timezone

from notifications import payloads
from notifications.channels import Outgoing, channel_type
from notifications.models import (
    Attempt,
    AttemptOutcome,
    Channel,
    Delivery,
    DeliveryState,
    EventType,
    Message,
    MessageState,
)
from notifications.outbox import form_messages, schedule_reminders
from notifications.replies import Reply, backoff
from probes import placeholders
from probes.redaction import Secrets
from probes.statuses import Status

log = logging.getLogger(__name__)

# Most messages one pass claims; they are sent concurrently.
CLAIM_LIMIT = 200


@dataclass(frozen=True)
class Claimed:
    outgoing: Outgoing
    type: str  # the channel's
    config: dict[str, Any]  # as declared: placeholders kept


@dataclass(frozen=True)
class Tried:
    claimed: Claimed
    reply: Reply
    at: datetime
    duration_ms: float


def lease() -> timedelta:
    """How long a claimed message is left to its sender: past its deadline, with room."""
    return timedelta(seconds=2 * settings.SEAHEALTH_NOTIFY_TIMEOUT + 5)


def take(now: datetime | None = None, limit: int = CLAIM_LIMIT) -> list[Claimed]:
    """Reminders made, due deliveries formed into messages, and messages due claimed."""
    now = now or timezone.now()
    schedule_reminders(now)
    form_messages(now)
    return claim(now, limit)


def claim(now: datetime, limit: int = CLAIM_LIMIT) -> list[Claimed]:
    with transaction.atomic():
        due = (
            Message.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=MessageState.PENDING, next_attempt_at__lte=now)
            .select_related("channel")
            .order_by("next_attempt_at")
        )
        messages = list(due[:limit])
        Message.objects.filter(id__in=[m.id for m in messages]).update(
            next_attempt_at=now + lease(), attempts=F("attempts") + 1
        )
    return [_claimed(message) for message in messages]


def _claimed(message: Message) -> Claimed:
    outgoing = Outgoing(message.id, message.type, message.payload, message.channel.name)
    return Claimed(outgoing, message.channel.type, message.channel.config)


async def deliver(claimed: list[Claimed], environ: Mapping[str, str] | None = None) -> list[Tried]:
    """One attempt at each, concurrently; no database."""
    environ = os.environ if environ is None else environ
    timeout = settings.SEAHEALTH_NOTIFY_TIMEOUT
    # A connection for every attempt (the claim bounds how many): in httpx's default pool of
    # 100, the rest would wait for a free one, and a receiver that hangs would hold up every
    # other channel's messages until they timed out, unsent.
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, limits=limits) as http:
        return list(await asyncio.gather(*(_attempt(c, http, environ) for c in claimed)))


async def _attempt(claimed: Claimed, http: httpx.AsyncClient, environ: Mapping[str, str]) -> Tried:
    at, started = timezone.now(), time.perf_counter()
    timeout = settings.SEAHEALTH_NOTIFY_TIMEOUT
    secrets = Secrets()
    try:
        config, substituted = placeholders.resolve(claimed.config, environ)
        secrets = Secrets.of_spec(claimed.config, config, substituted)
        send = channel_type(claimed.type).send(claimed.outgoing, config, http)
        reply = await asyncio.wait_for(send, timeout)
    except placeholders.UnsetVariable as exc:
        reply = Reply(error=f"config: {exc}")
    except TimeoutError:
        reply = Reply(error=f"timeout: no answer within {timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - the one boundary: a channel crash is a failed attempt
        reply = Reply(error=f"{type(exc).__name__}: {exc}")
        log.error(
            "sending %s crashed (a bug in seahealth): %s",
            claimed.outgoing.id,
            secrets.scrub(str(exc)),
        )
    reply = replace(reply, error=secrets.scrub(reply.error)[:500])
    return Tried(claimed, reply, at, round((time.perf_counter() - started) * 1000, 3))


def settle(tried: list[Tried]) -> Counter[str]:
    """Each attempt's outcome marked, in its own transaction; the outcomes counted."""
    return Counter(_settle(attempt) for attempt in tried)


def _settle(tried: Tried) -> str:
    now = timezone.now()
    reply, outgoing = tried.reply, tried.claimed.outgoing
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("channel")
            .filter(id=outgoing.id)
            .first()
        )
        if message is None or message.state != MessageState.PENDING:
            return "late"  # pruned, or settled by a sender that took it after its lease
        deadline = message.created_at + message.channel.give_up_after
        if reply.sent:
            outcome = AttemptOutcome.SENT
        elif reply.permanent or message.type == EventType.TEST or now >= deadline:
            outcome = AttemptOutcome.DEAD
        else:
            outcome = AttemptOutcome.FAILED
            wait = reply.retry_after
            if wait is None:
                first, longest = (
                    settings.SEAHEALTH_NOTIFY_RETRY_FIRST,
                    settings.SEAHEALTH_NOTIFY_RETRY_MAX,
                )
                wait = backoff(message.attempts, first, longest)
            message.next_attempt_at = min(now + timedelta(seconds=wait), deadline)
        Attempt.objects.create(
            message=message,
            at=tried.at,
            duration_ms=tried.duration_ms,
            outcome=outcome,
            status_code=reply.status_code,
            error=reply.error,
            next_attempt_at=message.next_attempt_at if outcome == AttemptOutcome.FAILED else None,
        )
        _mark(message, outcome, reply, now)
    _log(message, outcome, reply)
    return outcome


def _mark(message: Message, outcome: str, reply: Reply, now: datetime) -> None:
    message.last_status_code = reply.status_code
    message.last_error = reply.error
    counter = f"{outcome}_total"
    Channel.objects.filter(id=message.channel_id).update(**{counter: F(counter) + 1})
    if outcome == AttemptOutcome.FAILED:
        message.save(update_fields=["next_attempt_at", "last_status_code", "last_error"])
        return
    message.state = MessageState.SENT if outcome == AttemptOutcome.SENT else MessageState.DEAD
    message.finished_at = now
    message.save(update_fields=["state", "finished_at", "last_status_code", "last_error"])
    deliveries = Delivery.objects.filter(message=message)
    deliveries.update(state=DeliveryState.SENT if reply.sent else DeliveryState.DEAD)
    if reply.sent:
        # Down, and told: reminded of it after repeat_every, if it is still down then.
        deliveries.filter(repeat_every__isnull=False, event__status=Status.DOWN).update(
            remind_at=ExpressionWrapper(
                Value(now) + F("repeat_every"), output_field=DateTimeField()
            )
        )


def _log(message: Message, outcome: str, reply: Reply) -> None:
    what = (
        f"notification {message.id} ({payloads.summary(message.payload)}) to {message.channel.name}"
    )
    if outcome == AttemptOutcome.SENT:
        log.info("%s: sent", what)
    elif outcome == AttemptOutcome.DEAD:
        log.error("%s: dead after %d attempts: %s", what, message.attempts, reply.error)
    else:
        log.warning(
            "%s: attempt %d failed (%s); next at %s",
            what,
            message.attempts,
            reply.error,
            message.next_attempt_at.isoformat(timespec="seconds"),
        )


def send_due(rounds: int = 10) -> Counter[str]:
    """Take, deliver, settle until nothing more is due (at most `rounds` times): Celery's
    task and the tests. runprobes runs the three steps itself, the network part on its loop."""
    outcomes: Counter[str] = Counter()
    for _ in range(rounds):
        claimed = take()
        if claimed:
            outcomes += settle(asyncio.run(deliver(claimed)))
        if len(claimed) < CLAIM_LIMIT:
            break
    return outcomes


def send_test(channel: Channel) -> Tried:
    """A seahealth.test message to `channel`, sent now, once: no retry."""
    now = timezone.now()
    message = Message(
        channel=channel,
        type=EventType.TEST,
        state=MessageState.PENDING,
        created_at=now,
        next_attempt_at=now + lease(),
        attempts=1,
    )
    message.payload = payloads.body(
        message.id, EventType.TEST, [], payloads.current_service_status()
    )
    message.save(force_insert=True)
    [tried] = asyncio.run(deliver([_claimed(message)]))
    _settle(tried)
    return tried
