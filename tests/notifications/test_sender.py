"""The sender's network step: one attempt at each message claimed, all at once."""

from __future__ import annotations

import asyncio

from notifications.channels import Outgoing
from notifications.models import EventType
from notifications.sender import Claimed, deliver
from tests.servers import HangingServer, LocalHTTPServer, Route


def claimed(url: str, number: int) -> Claimed:
    outgoing = Outgoing(f"msg_{number}", EventType.STATUS_CHANGED, {"events": []}, "hook")
    return Claimed(outgoing, "webhook", {"url": url})


def test_a_receiver_that_hangs_does_not_hold_up_another_channels_messages(
    hanging_server: HangingServer, http_server: LocalHTTPServer, settings
) -> None:
    settings.SEAHEALTH_NOTIFY_TIMEOUT = 1.0
    http_server.routes["/hook"] = Route(status=204, body=b"")
    # More than httpx's default pool of 100 connections, every one of them held.
    stuck = [claimed(hanging_server.url("/hook"), number) for number in range(150)]

    *hung, other = asyncio.run(deliver([*stuck, claimed(http_server.url("/hook"), 150)]))

    assert {tried.reply.error.split(":")[0] for tried in hung} == {"timeout"}
    assert other.reply.sent, other.reply.error
