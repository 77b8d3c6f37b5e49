"""Checking a webhook's signature on its raw body, before anything is parsed.

Two schemes, as providers sign:
- `standard-webhooks` (https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp`
  and `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` (one or
  more, space-separated); the timestamp must be within the tolerance of now;
- `hmac-sha256`: a declared header holding the hex HMAC-SHA256 of the body under the secret,
  after an optional prefix (GitHub: `X-Hub-Signature-256: sha256=<hex>`).

Every comparison is constant-time (hmac.compare_digest). A refusal says why, in words that
name no secret.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from notifications import signing


class Refused(Exception):
    """The request is not the provider's, or not now: a 401 with this reason."""


def check(
    declared: Mapping[str, str],
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float,
) -> None:
    """Nothing when the body is signed by `secret` as `declared`; Refused otherwise."""
    if declared.get("scheme") == "standard-webhooks":
        _standard_webhooks(secret, headers, body, now, tolerance)
    else:
        _hmac_sha256(declared, secret, headers, body)


def _standard_webhooks(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> None:
    message_id, timestamp, signatures = (
        headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
    )
    if not (message_id and timestamp and signatures):
        raise Refused("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Refused("webhook-timestamp is not Unix seconds") from None
    if abs(now - sent_at) > tolerance:
        raise Refused(f"webhook-timestamp is {int(now - sent_at)} s from now, past the tolerance")
    expected = signing.signature(secret, message_id, sent_at, body).encode()
    # Every signature given is compared (a sender rotating keys sends two).
    if not any(hmac.compare_digest(given.encode(), expected) for given in signatures.split()):
        raise Refused("the signature does not match the body")


def _hmac_sha256(
    declared: Mapping[str, str], secret: str, headers: Mapping[str, str], body: bytes
) -> None:
    header, prefix = declared.get("header", ""), declared.get("prefix", "")
    given = headers.get(header, "")
    if not given:
        raise Refused(f"missing the {header} header")
    expected = prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Refused("the signature does not match the body")


def event_id(
    declared: Mapping[str, str], id_header: str, headers: Mapping[str, str], body: bytes
) -> str:
    """What tells this event from another: Standard Webhooks' webhook-id, the declared
    header's value, or else the body's SHA-256 (the same event sent twice is one)."""
    if declared.get("scheme") == "standard-webhooks":
        found = headers.get("webhook-id", "")
    else:
        found = headers.get(id_header, "") if id_header else ""
    return found[:200] if found else "sha256:" + hashlib.sha256(body).hexdigest()
