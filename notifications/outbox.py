"""The outbox between recording and the senders: due deliveries become messages (or are
cancelled, when the status they tell of did not last or is no news), and a dependency still
down past repeat_every gets a reminder.

Per dependency and channel, deliveries are taken in id order, one at a time: the next one is
looked at only once the one before is sent, dead, cancelled or silent. So a recovery never
overtakes its outage, even through retries. Forming locks the channel's row (SKIP LOCKED on
PostgreSQL; SQLite has one writer): two senders never split one channel's group, nor form
one delivery twice.

Maintenance windows mute: a status (other than up) or an SLO burn alert that began inside a
window of its dependency waits until the window ends, and is cancelled if it ended inside
it; one that still holds then is told, late (burn alerts: slo_burns.py). A recovery is news
only to a channel told of the outage (Known), so the recovery of a muted outage is not told
either. Reminders due inside a window wait for its end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef

from notifications import payloads, slo_burns
from notifications.models import (
    STOOD,
    UNFINISHED,
    Channel,
    Delivery,
    DeliveryState,
    Event,
    EventType,
    Message,
    MessageState,
    message_id,
)
from probes import maintenance_reader
from probes.maintenance import Active, Window, active
from probes.models import Dependency
from probes.statuses import Status

# Most events in one message: a larger group is sent as several.
LARGEST_GROUP = 100
# Most deliveries looked at in one pass; the rest wait for the next.
LARGEST_PASS = 2000


# Passes of forming in one call: a cancelled delivery lets the next in line be looked at.
ROUNDS = 10


def form_messages(now: datetime) -> int:
    """Make messages of the deliveries that are due and next in line; how many were made."""
    made = 0
    for _ in range(ROUNDS):
        formed, settled = _form_round(now)
        made += formed
        if not settled:
            break
    return made


def _form_round(now: datetime) -> tuple[int, int]:
    """(messages made, deliveries settled without a message)."""
    due = _next_in_line(now)
    if not due:
        return 0, 0
    made = settled = 0
    with transaction.atomic():
        locked = Channel.objects.select_for_update(skip_locked=True).filter(
            id__in={d.channel_id for d in due}, archived_at__isnull=True
        )
        channels = {channel.id: channel for channel in locked}
        # Read again under the lock: another sender may have formed them meanwhile.
        fresh = _next_in_line(now, channels=list(channels))
        known = _last_stood({(d.dependency_id, d.channel_id) for d in fresh})
        later = _later_changes(fresh)
        family = Family.read()
        windows = maintenance_reader.load() if fresh else []
        by_channel: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in fresh:
            if _held(delivery, family, later):
                continue
            if _decide(delivery, known, later, windows):
                by_channel[delivery.channel_id].append(delivery)
            else:
                settled += 1
        service_status = payloads.current_service_status() if by_channel else ""
        for channel_id, deliveries in by_channel.items():
            made += _form(channels[channel_id], deliveries, now, service_status, family.affected)
    return made, settled


def _next_in_line(now: datetime, channels: Sequence[int] | None = None) -> list[Delivery]:
    """Waiting deliveries that are due and have nothing unfinished before them."""
    earlier = Delivery.objects.filter(
        dependency=OuterRef("dependency"),
        channel=OuterRef("channel"),
        state__in=UNFINISHED,
        id__lt=OuterRef("id"),
    )
    due = Delivery.objects.filter(state=DeliveryState.WAITING, due_at__lte=now)
    if channels is not None:
        due = due.filter(channel__in=channels)
    due = due.exclude(Exists(earlier)).select_related("event", "event__dependency")
    return list(due.order_by("id")[:LARGEST_PASS])


Pair = tuple[int | None, int]  # (dependency, channel)


@dataclass
class Known:
    """What a channel knows of a dependency: the status it was last told, and the last one
    that stood (told, or silent: it would have been told)."""

    told: str = Status.UP.value
    stood: str = Status.UP.value

    def compared_with(self, status: str) -> str:
        """The status a new one is news against. A recovery is news only to a channel told
        of something else: one never told of the status it ends (degraded, left out of
        `on`) has known the dependency up all along. Any other status is news after a
        change that stood, told or not: after a silent recovery, an outage is a new one."""
        return self.told if status == Status.UP else self.stood


def _last_stood(pairs: set[Pair]) -> dict[Pair, Known]:
    """Per (dependency, channel): what the channel knows, from its deliveries in id order."""
    if not pairs:
        return {}
    found: dict[Pair, Known] = {}
    rows = Delivery.objects.filter(
        dependency__in={dependency for dependency, _ in pairs},
        channel__in={channel for _, channel in pairs},
        state__in=STOOD,
        event__type=EventType.STATUS_CHANGED,
    ).order_by("id")
    for dependency, channel, state, status in rows.values_list(
        "dependency_id", "channel_id", "state", "event__status"
    ):
        key = (dependency, channel)
        if key in pairs:
            known = found.setdefault(key, Known())
            known.stood = status
            if state != DeliveryState.SILENT:
                known.told = status
    return found


def _later_changes(deliveries: list[Delivery]) -> dict[int, list[tuple[int, datetime]]]:
    """Per dependency: the (id, since) of its status changes after the earliest of these."""
    if not deliveries:
        return {}
    found: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    rows = Event.objects.filter(
        dependency__in={d.dependency_id for d in deliveries},
        type=EventType.STATUS_CHANGED,
        id__gt=min(d.event_id for d in deliveries),
    ).values_list("dependency_id", "id", "since")
    for dependency, id_, since in rows:
        found[dependency].append((id_, since))
    return found


@dataclass
class Family:
    """Who depends on whom (depends_on), as far as notifications care: the parents that are
    down, and the children not up of each parent."""

    down: set[str]  # names of parents that are down
    affected: dict[str, list[str]]  # parent -> its children that are not up

    @classmethod
    def read(cls) -> Family:
        """Two queries when anything declares depends_on; none otherwise but one."""
        rows = list(
            Dependency.objects.active()
            .exclude(depends_on=[])
            .values_list("name", "status", "depends_on")
            .order_by("name")
        )
        if not rows:
            return cls(set(), {})
        parents = {parent for _, _, depends_on in rows for parent in depends_on}
        down = set(
            Dependency.objects.active()
            .filter(name__in=parents, status=Status.DOWN)
            .values_list("name", flat=True)
        )
        affected: dict[str, list[str]] = defaultdict(list)
        for name, status, depends_on in rows:
            for parent in depends_on:
                if status != Status.UP:
                    affected[parent].append(name)
        return cls(down, dict(affected))


# An acknowledgement is of an outage already told; a burn alert is of the dependency's own SLO.
_NOT_HELD = (EventType.ACKNOWLEDGED, EventType.SLO_BURN)


def _held(delivery: Delivery, family: Family, later: dict[int, list[tuple[int, datetime]]]) -> bool:
    """Whether a child's news waits for its parent's recovery; a child's outage that is over
    by then is cancelled (the parent's message named it as affected)."""
    event, dependency = delivery.event, delivery.event.dependency
    if dependency is None or event.status == Status.UP or event.type in _NOT_HELD:
        return False
    down = [parent for parent in dependency.depends_on if parent in family.down]
    if not down:
        if delivery.held_by:
            Delivery.objects.filter(id=delivery.id).update(held_by="")
        return False
    if any(id_ > delivery.event_id for id_, _ in later.get(delivery.dependency_id, ())):
        why = f"held back while {down[0]} was down, and over by then"
        Delivery.objects.filter(id=delivery.id).update(
            state=DeliveryState.CANCELLED, cancelled_because=why[:200], held_by=down[0]
        )
        return True
    if delivery.held_by != down[0]:
        Delivery.objects.filter(id=delivery.id).update(held_by=down[0])
    return True


def _decide(
    delivery: Delivery,
    known: dict[Pair, Known],
    later: dict[int, list[tuple[int, datetime]]],
    windows: Sequence[Window] = (),
) -> bool:
    """Whether `delivery` goes into a message now; if not, its final state is saved (or it
    waits, when it is still to be told but not yet)."""
    event = delivery.event
    if event.type == EventType.SLO_BURN:
        return slo_burns.decide(delivery, windows)
    dependency = event.dependency
    key = (delivery.dependency_id, delivery.channel_id)
    why = ""
    window = _began_in(delivery, windows)
    if window and _changed_before(delivery, later, window.until):
        why = f"in maintenance window {window.name}: the status ended inside it"
    elif window and delivery.due_at < window.until:
        Delivery.objects.filter(id=delivery.id).update(due_at=window.until)
        return False  # told when the window ends, if the status holds until then
    elif event.type == EventType.REMINDER:
        if dependency.status != event.status or dependency.status_since != event.since:
            why = "the dependency was no longer down when the reminder was due"
        elif dependency.acknowledged_at is not None:
            why = f"acknowledged by {dependency.acknowledged_by}"
    elif event.type == EventType.ACKNOWLEDGED:
        if dependency.status != event.status or dependency.status_since != event.since:
            why = "the outage ended before its acknowledgement was told"
        elif known.get(key, Known()).told != Status.DOWN:
            why = "the channel was not told of this outage"
    elif _changed_before(delivery, later, delivery.due_at):
        # The status changed again before the delivery was due (anti-flap).
        why = "the status ended before notify_after"
    elif event.status == known.get(key, Known()).compared_with(event.status):
        why = "no change since what the channel was last told"
    if why:
        _finish(delivery, DeliveryState.CANCELLED, why)
        return False
    if not delivery.tell:
        _finish(delivery, DeliveryState.SILENT)
        known.setdefault(key, Known()).stood = event.status
        return False
    return True


def _began_in(delivery: Delivery, windows: Sequence[Window]) -> Active | None:
    """The window the delivery's status began in, for a status that is muted there: every
    one but a recovery (which Known tells only to a channel told of the outage)."""
    event = delivery.event
    if not windows or event.type != EventType.STATUS_CHANGED or event.status == Status.UP:
        return None
    return active(windows, event.dependency, event.since)


def _changed_before(
    delivery: Delivery, later: dict[int, list[tuple[int, datetime]]], moment: datetime
) -> bool:
    """Whether the dependency's status changed again after this delivery's, before `moment`."""
    return any(
        id_ > delivery.event_id and since < moment
        for id_, since in later.get(delivery.dependency_id, ())
    )


def _finish(delivery: Delivery, state: DeliveryState, why: str = "") -> None:
    Delivery.objects.filter(id=delivery.id).update(state=state, cancelled_because=why)


def _form(
    channel: Channel,
    deliveries: list[Delivery],
    now: datetime,
    service: str,
    affected: dict[str, list[str]],
) -> int:
    """The channel's messages: one per delivery, or, with group_wait, one per window (that
    opens when the first of them was due)."""
    if channel.group_wait and now < min(d.due_at for d in deliveries) + channel.group_wait:
        return 0  # the window is still open: they wait for the rest
    size = LARGEST_GROUP if channel.group_wait else 1
    # An acknowledgement is a message of its own kind, never grouped with changes; a burn
    # alert is a message of its own (its body is not a status change's).
    acknowledged = [d for d in deliveries if d.event.type == EventType.ACKNOWLEDGED]
    rest = [d for d in deliveries if d.event.type not in _NOT_HELD]
    groups = [
        chunk
        for kind in (rest, acknowledged)
        for chunk in (kind[i : i + size] for i in range(0, len(kind), size))
    ] + [[d] for d in deliveries if d.event.type == EventType.SLO_BURN]
    for group in groups:
        kind = _message_type({d.event.type for d in group})
        message = Message(
            id=message_id(),
            channel=channel,
            type=kind,
            state=MessageState.PENDING,
            created_at=now,
            next_attempt_at=now,
        )
        events = [d.event for d in group]
        message.payload = payloads.body(message.id, kind, events, service, affected)
        message.save(force_insert=True)
        Delivery.objects.filter(id__in=[d.id for d in group]).update(
            state=DeliveryState.QUEUED, message=message
        )
    return len(groups)


def _message_type(types: set[str]) -> str:
    """Its events' type; status changes with reminders are status changes."""
    return next(iter(types)) if len(types) == 1 else EventType.STATUS_CHANGED


def schedule_reminders(now: datetime) -> int:
    """A reminder for each dependency still down repeat_every after it was last told; how
    many. One transaction: a reminder is made once, however many senders run."""
    made = 0
    windows = maintenance_reader.load()
    with transaction.atomic():
        due = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(remind_at__lte=now)
            .select_related("event", "event__dependency")
        )
        for delivery in due[:LARGEST_PASS]:
            Delivery.objects.filter(id=delivery.id).update(remind_at=None)
            event, dependency = delivery.event, delivery.event.dependency
            if not _still_down(event, dependency) or _newer_delivery(delivery):
                continue
            window = active(windows, dependency, now)
            if window is not None:
                # Muted until the window ends; the reminder is made then if still down.
                Delivery.objects.filter(id=delivery.id).update(remind_at=window.until)
                continue
            reminder = Event.objects.create(
                dependency=dependency,
                type=EventType.REMINDER,
                status=event.status,
                previous_status=event.previous_status,
                since=event.since,
                error=dependency.last_error,
                created_at=now,
            )
            Delivery.objects.create(
                event=reminder,
                channel_id=delivery.channel_id,
                dependency=dependency,
                state=DeliveryState.WAITING,
                due_at=now,
                repeat_every=delivery.repeat_every,
            )
            made += 1
    return made


def _still_down(event: Event, dependency: object) -> bool:
    """Down since the event, and nobody has said they are on it."""
    return (
        dependency is not None
        and dependency.archived_at is None
        and dependency.status == Status.DOWN == event.status
        and dependency.status_since == event.since
        and dependency.acknowledged_at is None
    )


def _newer_delivery(delivery: Delivery) -> bool:
    return Delivery.objects.filter(
        dependency=delivery.dependency_id, channel=delivery.channel_id, id__gt=delivery.id
    ).exists()
