"""Signed webhooks from a provider that announces its own trouble (a payment, mail or cloud
provider's status events).

Nothing is probed: the provider posts to `/hooks/<name>` (inbound/views.py), which checks
the signature on the raw body before anything else, stores the event once (by its id) and
answers; the prober reads the event's status at `status_path` (inbound/applying.py), and
every interval judges the last one (`judge` below): listed under `up`, `degraded` or
`down`, or `degraded` when no list has it. `unknown` before the first event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from probes.context import ProbeContext
from probes.excerpts import shorten
from probes.fields import Fields
from probes.json_values import ABSENT, DOTTED_PATH, json_path
from probes.outcomes import ErrorClass, Outcome, ProbeError

PASSIVE = True
SCHEMES = ("standard-webhooks", "hmac-sha256")
DEFAULT_TOLERANCE = 300.0
LONGEST_TOLERANCE = 86400.0  # events are remembered a day: a replay older is refused by time
STATUSES = ("up", "degraded", "down")


@dataclass(frozen=True, kw_only=True)
class Spec:
    # {scheme: standard-webhooks, secret: ${VAR}} or
    # {scheme: hmac-sha256, header: X-Hub-Signature-256, prefix: "sha256=", secret: ${VAR}}
    signature: dict[str, str]
    tolerance: float = field(default=DEFAULT_TOLERANCE, metadata={"duration": True})
    # hmac-sha256: the header holding the event's id (GitHub: X-GitHub-Delivery); without
    # one, an event is known by its body's hash.
    id_header: str = ""
    status_path: str = "status"
    up: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    down: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reported:
    """The last event, as the prober applied it (inbound.models.InboundState)."""

    last_signal_at: datetime | None = None
    status: str = ""  # up, degraded, down; "" when the event's value is in no list
    detail: str = ""  # the provider's own word for it (major_outage), or why it has none


def parse(fields: Fields) -> Spec:
    section = fields.section("signature")
    signature: dict[str, str] = {}
    if section is not None:
        scheme = section.string("scheme", choices=SCHEMES)
        signature = {"scheme": scheme, "secret": section.secret("secret")}
        if scheme == "hmac-sha256":
            signature["header"] = section.string("header")
            signature["prefix"] = section.string("prefix", "")
        section.reject_unread()
    tolerance = fields.duration("tolerance", DEFAULT_TOLERANCE)
    if isinstance(tolerance, float) and tolerance > LONGEST_TOLERANCE:
        fields.problem("tolerance", "must be at most 1d (events are remembered for a day)")
    lists = {status: fields.names(status) or [] for status in STATUSES}
    seen: dict[str, str] = {}
    for status, values in lists.items():
        for value in values:
            if value in seen:
                fields.problem(status, f"{value!r} is listed under {seen[value]} too")
            seen[value] = status
    return Spec(
        signature=signature,
        tolerance=tolerance,
        id_header=fields.string("id_header", ""),
        status_path=fields.string(
            "status_path", "status", pattern=DOTTED_PATH, pattern_help="is not a dotted path"
        ),
        **lists,
    )


def describe(spec: Spec) -> str:
    return f"signed events ({spec.signature.get('scheme')}), status at {spec.status_path}"


def speaks_tls(spec: Spec) -> bool:
    return False  # it is spoken to


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    raise ProbeError(ErrorClass.CONFIG, "a webhook is not probed: its provider posts to it")


def status_of(spec: Spec, event: Any) -> tuple[str, str]:
    """(up/degraded/down or "", the provider's value) of a parsed event's JSON."""
    value = json_path(event, spec.status_path)
    if value is ABSENT:
        return "", f"no value at {spec.status_path}"
    shown = value if isinstance(value, str) else repr(value)
    for status in STATUSES:
        if shown in getattr(spec, status):
            return status, shown
    return "", shown


def judge(spec: Spec, reported: Reported, now: datetime) -> Outcome | None:
    if reported.last_signal_at is None:
        return None
    said = shorten(reported.detail, 200)
    observations = {"provider_status": said, "event_at": reported.last_signal_at.isoformat()}
    if reported.status == "down":
        return Outcome(
            error_class=ErrorClass.UNEXPECTED_RESPONSE,
            detail=f"the provider reports {said}",
            observations=observations,
            checked_at=now,
        )
    warnings = ()
    if reported.status == "degraded":
        warnings = (f"the provider reports {said}",)
    elif reported.status != "up":
        warnings = (f"the provider reports {said}, which none of up, degraded, down lists",)
    return Outcome(warnings=warnings, observations=observations, checked_at=now)
