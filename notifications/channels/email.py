"""Email, through Django's email settings (EMAIL_URL, DEFAULT_FROM_EMAIL, EMAIL_TIMEOUT).

ops-mail: {type: email, to: [ops@example.com]}
"""

from __future__ import annotations

import asyncio
import smtplib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from notifications import payloads
from notifications.channels import Outgoing
from notifications.models import EventType
from notifications.replies import Reply, from_error
from probes.excerpts import excerpt
from probes.fields import LONGEST_LIST, Fields

GROUPS = True
# SMTP is blocking: each mail is sent on a thread of its own. Enough of them that a pass's
# mails start at once (asyncio's default pool has six on two cores: the rest would wait,
# their timeout running, and give up untried).
_SENDERS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="seahealth-mail")


def parse(fields: Fields) -> dict[str, Any]:
    to = fields.value("to")
    addresses = [to] if isinstance(to, str) else to
    if to is None:
        return {"to": []}
    if not isinstance(addresses, list) or not addresses or len(addresses) > LONGEST_LIST:
        fields.problem("to", f"expected an address or a list of up to {LONGEST_LIST} addresses")
        return {"to": []}
    for address in addresses:
        try:
            validate_email(address if isinstance(address, str) else "")
        except ValidationError:
            fields.problem("to", f"{excerpt(address)} is not an email address")
    return {"to": list(dict.fromkeys(a for a in addresses if isinstance(a, str)))}


def subject(payload: dict[str, Any]) -> str:
    return f"[seahealth] {payloads.summary(payload)}"


def text(payload: dict[str, Any]) -> str:
    lines = [payloads.summary(payload), ""]
    if payload["type"] == EventType.SLO_BURN:
        for event in payload["events"]:
            lines += [*payloads.burn_details(event), event["url"]]
        payload = {**payload, "events": []}
    for event in payload["events"]:
        lines.append(f"{event['dependency']}: {event['status']} since {event['since']}")
        if event["error"] and event["status"] != "up":
            lines.append(f"  error: {event['error']}")
        if event["url"]:
            lines.append(f"  {event['url']}")
    lines += ["", f"service status: {payload['service_status']}", f"message id: {payload['id']}"]
    return "\n".join(lines) + "\n"


def _send_now(outgoing: Outgoing, to: list[str]) -> None:
    connection = get_connection(timeout=settings.SEAHEALTH_NOTIFY_TIMEOUT)
    message = EmailMessage(
        subject(outgoing.payload),
        text(outgoing.payload),
        settings.DEFAULT_FROM_EMAIL,
        to,
        headers={"Message-ID": f"<{outgoing.id}@seahealth>", "X-Seahealth-Id": outgoing.id},
        connection=connection,
    )
    message.send()


async def send(outgoing: Outgoing, config: dict[str, Any], http: httpx.AsyncClient) -> Reply:
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(_SENDERS, _send_now, outgoing, config["to"])
    except smtplib.SMTPResponseException as exc:
        reason = _text(exc.smtp_error)
        # 5xx is the server's final word; 4xx is "try again later".
        return Reply(
            exc.smtp_code, f"SMTP {exc.smtp_code}: {reason}", permanent=exc.smtp_code >= 500
        )
    except smtplib.SMTPRecipientsRefused as exc:
        return _recipients_refused(exc)
    except OSError as exc:
        # smtplib's other errors are OSErrors too (a server that hung up, or timed out):
        # classified by what is at their root, and tried again.
        return from_error(exc)
    return Reply()


def _recipients_refused(exc: smtplib.SMTPRecipientsRefused) -> Reply:
    """Every recipient refused: for good if each refusal is 5xx; a 4xx (greylisting, a full
    mailbox) is tried again."""
    codes = [code for code, _ in exc.recipients.values()]
    refused = ", ".join(
        f"{address} ({code} {_text(reason)})" for address, (code, reason) in exc.recipients.items()
    )
    return Reply(
        max(codes, default=None),
        f"recipients refused: {refused}",
        permanent=bool(codes) and min(codes) >= 500,
    )


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
