"""End to end, maintenance windows (issue 13): runprobes probes a loopback peer the test
stops and restarts, and notifies a webhook receiver. An outage that begins and ends inside a
window is told to nobody; one that begins before and ends after it is told as usual."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from notifications.models import Delivery, DeliveryState
from probes.models import MaintenanceWindow
from tests.e2e.receiver import WebhookReceiver
from tests.e2e.test_notifications import (
    RUNPROBES,
    declare,
    failing,
    healthy,
    prober_env,
    receiver,  # noqa: F401 - a fixture
    sent,
    settled,
    statuses,
    until,
)
from tests.processes import StartProcess
from tests.servers import LocalHTTPServer

pytestmark = pytest.mark.django_db(transaction=True)


def with_window(path: Path, start: datetime, end: datetime) -> None:
    """The declaration, with a window for `api` from `start` until `end`."""
    path.write_text(
        path.read_text()
        + f"""maintenance:
  - name: api-upgrade
    match: {{names: [api]}}
    start: {start:%Y-%m-%dT%H:%M:%SZ}
    end: {end:%Y-%m-%dT%H:%M:%SZ}
"""
    )


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def test_an_outage_inside_a_window_is_told_to_nobody(
    start_process: StartProcess,
    declaration: Path,
    receiver: WebhookReceiver,  # noqa: F811 - the fixture
    http_server: LocalHTTPServer,
) -> None:
    receiver.accept()
    declare(declaration, receiver, http_server)
    runprobes = start_process("runprobes", RUNPROBES, env=prober_env(declaration))
    until(lambda: statuses("api") == {"up"}, "up", receiver, [runprobes])
    # Declared once the prober is up (it syncs the changed file), so that the prober's start
    # does not eat into the window: 15 s is long enough for an outage and its recovery on a
    # busy machine, and short for the test.
    end = now() + timedelta(seconds=15)
    with_window(declaration, now() - timedelta(minutes=1), end)
    until(MaintenanceWindow.objects.exists, "the window synced", receiver, [runprobes])

    failing(http_server)
    until(lambda: statuses("api") == {"down"}, "down", receiver, [runprobes])
    healthy(http_server)
    until(lambda: statuses("api") == {"up"}, "up again", receiver, [runprobes])
    assert datetime.now(UTC) < end, "the machine was too slow: the outage outlasted the window"
    # Past the window's end, when the outage's delivery was due: it is decided by then.
    until(lambda: datetime.now(UTC) > end and settled(), "settled", receiver, [runprobes], 60)
    runprobes.stop()

    assert receiver.told() == []
    down = Delivery.objects.get(event__status="down")
    assert (down.state, down.cancelled_because) == (
        DeliveryState.CANCELLED,
        "in maintenance window api-upgrade: the status ended inside it",
    )


def test_an_outage_that_began_before_a_window_and_ends_after_it_is_told_as_usual(
    start_process: StartProcess,
    declaration: Path,
    receiver: WebhookReceiver,  # noqa: F811 - the fixture
    http_server: LocalHTTPServer,
) -> None:
    receiver.accept()
    declare(declaration, receiver, http_server)
    runprobes = start_process("runprobes", RUNPROBES, env=prober_env(declaration))
    until(lambda: statuses("api") == {"up"}, "up", receiver, [runprobes])

    failing(http_server)
    until(lambda: receiver.told() == [("api", "down")], "told down", receiver, [runprobes])
    # The window opens while it is down (the prober syncs the changed file), and closes.
    end = now() + timedelta(seconds=5)
    with_window(declaration, now() - timedelta(seconds=1), end)
    until(MaintenanceWindow.objects.exists, "the window synced", receiver, [runprobes])
    until(lambda: datetime.now(UTC) > end, "the window closed", receiver, [runprobes])
    healthy(http_server)
    until(lambda: sent() == 2, "both sent", receiver, [runprobes])
    runprobes.stop()

    assert receiver.told() == [("api", "down"), ("api", "up")]
