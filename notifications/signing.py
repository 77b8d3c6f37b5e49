"""Standard Webhooks signatures (https://www.standardwebhooks.com/): what a receiver checks
to know a message is ours, and not replayed.

    webhook-id: msg_...               the message's id, the same on every attempt
    webhook-timestamp: 1764581112     this attempt's time, in Unix seconds
    webhook-signature: v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>

The key is a `whsec_` secret's base64 after the prefix, or any other secret's UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "whsec_"


def key(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        return base64.b64decode(secret.removeprefix(PREFIX))
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str | None, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers; without a secret, no signature (the id still lets a receiver
    deduplicate)."""
    found = {"webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    if secret:
        found["webhook-signature"] = signature(secret, message_id, timestamp, body)
    return found
