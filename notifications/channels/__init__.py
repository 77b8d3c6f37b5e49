"""The channel types: a plain dict from type to module, imported on first use.

A channel type is one module with:
- `GROUPS`: whether one message may carry several events (group_wait);
- `parse(fields) -> dict`: the type's fields as declared (placeholders kept), problems
  reported on `fields`;
- `async send(outgoing, config, http) -> Reply`: one attempt, `config` with its
  placeholders resolved; it never raises for what the receiver does (the sender bounds it by
  the timeout, and turns a crash into a failed attempt).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

CHANNEL_TYPES = {
    "webhook": "notifications.channels.webhook",
    "email": "notifications.channels.email",
    "slack": "notifications.channels.slack",
    "pagerduty": "notifications.channels.pagerduty",
}


def channel_type(name: str) -> ModuleType:
    return importlib.import_module(CHANNEL_TYPES[name])


@dataclass(frozen=True)
class Outgoing:
    """One attempt at a message: what every channel type sends from."""

    id: str  # the message's id: webhook-id, the same on every attempt
    type: str  # an EventType value
    payload: dict[str, Any]  # notifications/payloads.py's body
    channel: str
