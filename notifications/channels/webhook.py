"""Webhook: the message's body as JSON, POSTed with Standard Webhooks headers.

ops-hook: {type: webhook, url: "https://hooks.example.com/seahealth", secret: "${HOOK_SECRET}"}
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from notifications import signing
from notifications.channels import Outgoing
from notifications.replies import Reply, post
from probes.fields import Fields
from probes.http_peers import check_url, read_headers

GROUPS = True
# Headers seahealth sets: a declared one of the same name would be sent beside it, and a
# receiver might read the wrong one.
OWN_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")


def parse(fields: Fields) -> dict[str, Any]:
    config = {"url": check_url(fields, "url", ("http", "https"))}
    secret = fields.secret("secret", None)
    if secret is not None:
        config["secret"] = secret
    headers = read_headers(fields)
    for name in headers:
        if name.lower() in OWN_HEADERS:
            fields.problem("headers", f"header '{name}' is set by seahealth: leave it out")
    if headers:
        config["headers"] = headers
    return config


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def send(outgoing: Outgoing, config: dict[str, Any], http: httpx.AsyncClient) -> Reply:
    content = encode(outgoing.payload)
    secret = config.get("secret")
    if secret is not None and not secret:
        # Declared, so the receiver checks signatures: unsigned, every message would be refused.
        return Reply(error="config: the secret is empty: set its variable")
    try:
        signed = signing.headers(secret, outgoing.id, int(time.time()), content)
    except signing.BadSecret as exc:
        return Reply(error=f"config: {exc}")
    headers = {**config.get("headers", {}), "content-type": "application/json", **signed}
    return await post(http, config["url"], content, headers)
