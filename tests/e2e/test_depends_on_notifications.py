"""End to end, dependencies of dependencies (issue 13, point 2): a parent and three children
going down together are one notification naming the three; the children's own news waits
for the parent's recovery, and goes out then because they are still down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from notifications.models import Delivery
from tests.e2e.receiver import WebhookReceiver
from tests.e2e.test_notifications import (
    HOOK_SECRET,
    RUNPROBES,
    prober_env,
    receiver,  # noqa: F401 - the fixture
    until,
)
from tests.processes import StartProcess
from tests.servers import LocalHTTPServer, Route

pytestmark = pytest.mark.django_db(transaction=True)

CHILDREN = ("app-0", "app-1", "app-2")


def declare(path: Path, hook: WebhookReceiver, peer: LocalHTTPServer) -> None:
    children = "".join(
        f'  - {{name: {name}, url: "{peer.url("/app")}", depends_on: [vpn]}}\n' for name in CHILDREN
    )
    # notify_after lets every one be recorded down before the parent's message is formed.
    path.write_text(
        f"""notifications:
  channels:
    hook: {{type: webhook, url: "{hook.url()}", secret: "${{HOOK_SECRET}}"}}
  routes:
    - channels: [hook]
      notify_after: 3s
defaults:
  kind: http
  interval: 1s
  timeout: 1s
  breaker: {{failure_threshold: 1, recovery_timeout: 1s, success_threshold: 1}}
dependencies:
  - {{name: vpn, url: "{peer.url("/vpn")}"}}
{children}"""
    )


def test_a_parent_and_its_children_down_together_are_one_message_naming_them(
    start_process: StartProcess,
    declaration: Path,
    receiver: WebhookReceiver,  # noqa: F811 - the fixture
    http_server: LocalHTTPServer,
) -> None:
    assert HOOK_SECRET
    receiver.accept()
    http_server.routes["/vpn"] = http_server.routes["/app"] = Route()
    declare(declaration, receiver, http_server)
    runprobes = start_process("runprobes", RUNPROBES, env=prober_env(declaration))
    until(lambda: receiver.told() == [] and _all_up(), "all up", receiver, [runprobes])

    http_server.routes["/vpn"] = http_server.routes["/app"] = Route(status=503)
    until(lambda: receiver.told() == [("vpn", "down")], "the parent told", receiver, [runprobes])
    [message] = [r.payload() for r in receiver.met_with("accepted")]
    assert message["events"][0]["affected"] == list(CHILDREN)

    # Due by now, the children's own outages are held back while the parent is down: the
    # outbox marks them so, and eight ticks of its sender (0.25 s) later they are untold.
    until(_held_back, "the children held back", receiver, [runprobes])
    time.sleep(2)
    assert receiver.told() == [("vpn", "down")]

    # The parent comes back; its children are still down: their news goes out now.
    http_server.routes["/vpn"] = Route()
    expected = {("vpn", "down"), ("vpn", "up"), *((name, "down") for name in CHILDREN)}
    until(lambda: set(receiver.told()) == expected, "the children told", receiver, [runprobes])
    assert len(receiver.told()) == len(expected)  # each once


def _all_up() -> bool:
    from probes.models import Dependency

    return set(Dependency.objects.values_list("status", flat=True)) == {"up"}


def _held_back() -> bool:
    """Whether the outbox holds each child's outage back for its parent."""
    down = Delivery.objects.filter(event__dependency__name__in=CHILDREN, event__status="down")
    return list(down.values_list("held_by", flat=True)) == ["vpn"] * len(CHILDREN)
