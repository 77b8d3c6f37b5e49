"""Standard Webhooks signatures (https://www.standardwebhooks.com/): what a receiver checks
to know a message is ours, and not replayed.

    webhook-id: msg_...               the message's id, the same on every attempt
    webhook-timestamp: 1764581112     this attempt's time, in Unix seconds
    webhook-signature: v1,<base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}")>

The key is a `whsec_` secret's base64 after the prefix, or any other secret's UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

PREFIX = "whsec_"


class BadSecret(ValueError):
    """A `whsec_` secret whose rest is not base64: no key can be made of it."""


def key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(PREFIX)
    # Padding is often left off a secret copied around; the reference libraries add it back.
    encoded += "=" * (-len(encoded) % 4)
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        # The secret itself is never quoted: this message may reach a log or a page.
        raise BadSecret("a whsec_ secret must be base64 after the prefix") from None
    if not decoded:
        raise BadSecret("a whsec_ secret must hold a key after the prefix")
    return decoded


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
