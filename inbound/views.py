"""The two doors of dependencies that report in, neither behind a login:

  /ping/<token>[/start|/fail|/<exit status>]   a heartbeat's job (GET, HEAD or POST)
  /hooks/<name>                                 a provider's signed event (POST)

Each stores what came (a Signal) and answers at once; the prober applies it after
(inbound/applying.py). A ping's answer is the same whether or not the token exists, and
whether or not it was over its rate: a stranger learns nothing from it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from inbound import signatures, tokens
from inbound.models import InboundState, Signal
from notifications.signing import BadSecret
from probes import placeholders
from probes.dependency_spec import target_of
from probes.models import Dependency

# Pings stored per heartbeat per minute: a flood past it is answered alike and dropped, so
# it cannot grow the database (pings are pruned an hour after they are applied).
PINGS_PER_MINUTE = 30
LONGEST_TOKEN = 200
# What a failing job's ping keeps of its body: the tail of its log, say.
LONGEST_REPORT = 10 * 1024
# An event's body, at most: a larger one is refused before it is read.
LONGEST_EVENT = 1024 * 1024
# Events stored per webhook per minute: past it a sender is asked to come back (429 and
# Retry-After; a provider retries), so a flood loses no event and grows no table.
EVENTS_PER_MINUTE = 120


def _answer() -> HttpResponse:
    response = HttpResponse("OK\n", content_type="text/plain")
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def ping(
    request: HttpRequest,
    token: str,
    what: str = Signal.What.SUCCESS,
    exit_code: int | None = None,
) -> HttpResponse:
    if len(token) > LONGEST_TOKEN:
        return _answer()
    if exit_code is not None:
        what = Signal.What.SUCCESS if exit_code == 0 else Signal.What.FAIL
    body = ""
    if what == Signal.What.FAIL and request.method == "POST":
        body = _text(request.read(LONGEST_REPORT))
    found = (
        InboundState.objects.filter(
            token_hash=tokens.token_hash(token),
            dependency__kind="heartbeat",
            dependency__archived_at__isnull=True,
        )
        .values_list("dependency_id", flat=True)
        .first()
    )
    now = timezone.now()
    if found is not None and _under_rate(found, now):
        Signal.objects.create(
            dependency_id=found, received_at=now, what=what, exit_code=exit_code, body=body
        )
    return _answer()


def _under_rate(dependency_id: int, now: datetime, most: int = PINGS_PER_MINUTE) -> bool:
    """Whether the dependency stored fewer than `most` signals in the last minute."""
    recent = Signal.objects.filter(
        dependency_id=dependency_id, received_at__gt=now - timedelta(minutes=1)
    )
    return recent.count() < most


def _text(body: bytes) -> str:
    """A body as text a column holds: UTF-8 (or replaced where it is not), without NUL."""
    return body.decode("utf-8", errors="replace").replace("\x00", "")


def _refusal(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


@csrf_exempt
@require_POST
def hook(request: HttpRequest, name: str) -> HttpResponse:
    row = Dependency.objects.active().filter(name=name, kind="webhook").first()
    if row is None:
        return _refusal(404, "no such webhook")
    spec = target_of(row.kind, row.spec)
    declared = getattr(spec, "signature", None)
    if not isinstance(declared, dict):
        return _refusal(503, "this webhook's declaration cannot be read by this server")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refusal(400, "Content-Length is not a number")
    too_large = _refusal(413, f"an event is at most {LONGEST_EVENT // 1024} KiB")
    if length > LONGEST_EVENT:
        return too_large
    body = request.read(LONGEST_EVENT + 1)
    if len(body) > LONGEST_EVENT:
        return too_large
    now = timezone.now()
    try:
        secret, _ = placeholders.resolve(declared.get("secret", ""), os.environ)
        signatures.check(declared, secret, request.headers, body, now.timestamp(), spec.tolerance)
    except (placeholders.UnsetVariable, BadSecret) as exc:
        return _refusal(503, f"this server cannot check the signature: {exc}")
    except signatures.Refused as exc:
        return _refusal(401, str(exc))
    event_id = signatures.event_id(declared, spec.id_header, request.headers, body)
    if not _under_rate(row.id, now, EVENTS_PER_MINUTE):
        response = _refusal(429, f"more than {EVENTS_PER_MINUTE} events a minute: retry later")
        response["Retry-After"] = "60"
        return response
    try:
        with transaction.atomic():
            Signal.objects.create(
                dependency=row,
                received_at=now,
                what=Signal.What.EVENT,
                body=_text(body),
                event_id=event_id,
            )
    except IntegrityError:
        # Delivered before (a retry, a replay within the tolerance, or two at once): taken
        # once, and the sender told it is done.
        return JsonResponse({"received": True, "duplicate": True})
    return JsonResponse({"received": True})
