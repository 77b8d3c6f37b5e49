"""End to end, notifications (issue 12): at least once, exactly once to a receiver that
deduplicates on the webhook-id, in order per dependency, with any number of senders.

Real processes (runprobes, Celery beat and workers) probe a loopback server the test turns
healthy and failing, and notify a webhook receiver (receiver.py) that checks signatures
with its own code, counts what it accepted per webhook-id, and misbehaves on demand.
"""

from __future__ import annotations

import base64
import itertools
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from notifications.models import UNFINISHED, Attempt, Delivery, Event, Message, MessageState
from probes.models import Dependency
from tests.databases import subprocess_env
from tests.e2e.receiver import WebhookReceiver
from tests.e2e.test_secret_canaries import textual_forms
from tests.processes import Process, StartProcess
from tests.servers import LocalHTTPServer, Route

if TYPE_CHECKING:
    from tests.e2e.conftest import Celery

pytestmark = pytest.mark.django_db(transaction=True)

HOOK_SECRET = "whsec_" + base64.b64encode(b"seahealth e2e notifications key").decode()
RUNPROBES = [sys.executable, "manage.py", "runprobes"]
# Each wait ends at most this long after it began; every step needs a few seconds.
PHASE_TIMEOUT = 40.0
# Short, so that retries and leases come round within a test: a lease is 2 x 2 + 5 = 9 s.
NOTIFY = {
    "SEAHEALTH_NOTIFY_TIMEOUT": "2",
    "SEAHEALTH_NOTIFY_RETRY_FIRST": "0.5",
    "SEAHEALTH_NOTIFY_RETRY_MAX": "2",
    "SEAHEALTH_TICK_SECONDS": "0.25",
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(HOOK_SECRET)
    yield receiver
    receiver.stop()


def declare(
    path: Path,
    receiver: WebhookReceiver,
    peer: LocalHTTPServer,
    names: Iterable[str] = ("api",),
    fields: str = "",
) -> None:
    """Every dependency down at its first failure, on trial again a second later; every
    change told to the receiver's channel."""
    entries = "".join(
        f'  - {{name: {name}, url: "{peer.url(f"/health?{name}")}"{fields}}}\n' for name in names
    )
    path.write_text(
        f"""notifications:
  channels:
    hook: {{type: webhook, url: "{receiver.url()}", secret: "${{HOOK_SECRET}}"}}
  routes:
    - channels: [hook]
defaults:
  kind: http
  interval: 1s
  timeout: 1s
  breaker: {{failure_threshold: 1, recovery_timeout: 1s, success_threshold: 1}}
dependencies:
{entries}"""
    )


def prober_env(declaration: Path, **extra: str) -> dict[str, str]:
    values = {"SEAHEALTH_DEPENDENCIES": str(declaration), "HOOK_SECRET": HOOK_SECRET, **NOTIFY}
    return subprocess_env(**{**values, **extra})


def until(
    condition: Callable[[], bool],
    what: str,
    receiver: WebhookReceiver,
    processes: Iterable[Process] = (),
    seconds: float = PHASE_TIMEOUT,
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        for process in processes:
            process.check_running()
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {seconds:g}s; the receiver had: {receiver.summary()}")
        time.sleep(0.05)


def statuses(*names: str) -> set[str]:
    return set(Dependency.objects.filter(name__in=names).values_list("status", flat=True))


def sent() -> int:
    return Message.objects.filter(state=MessageState.SENT).count()


def failing(peer: LocalHTTPServer) -> None:
    peer.routes["/health"] = Route(status=503, body=b"down for the test")


def healthy(peer: LocalHTTPServer) -> None:
    peer.routes["/health"] = Route()


def test_a_dependency_down_then_up_is_delivered_once_down_then_up(
    start_process: StartProcess,
    declaration: Path,
    receiver: WebhookReceiver,
    http_server: LocalHTTPServer,
) -> None:
    receiver.accept()
    declare(declaration, receiver, http_server)
    runprobes = start_process("runprobes", RUNPROBES, env=prober_env(declaration))
    until(lambda: statuses("api") == {"up"}, "up", receiver, [runprobes])

    failing(http_server)
    until(lambda: receiver.told() == [("api", "down")], "told down", receiver, [runprobes])
    healthy(http_server)
    until(lambda: sent() == 2, "both sent", receiver, [runprobes])
    runprobes.stop()  # nothing more can come: the counts below are final

    assert receiver.told() == [("api", "down"), ("api", "up")]
    deliveries = receiver.deliveries()
    assert set(deliveries) == set(Message.objects.values_list("id", flat=True))
    assert [len(bodies) for bodies in deliveries.values()] == [1, 1]
    assert [request.payload()["id"] for request in receiver.requests] == list(deliveries)
    assert receiver.met_with("rejected") == []
    down, up = (request.payload()["events"][0] for request in receiver.requests)
    assert down["previous_status"] == "up"
    assert down["error"] == "unexpected_status: HTTP 503 Service Unavailable, expected 2xx"
    assert (up["previous_status"], up["error"]) == ("down", None)


def error_kinds(message: Message) -> list[str]:
    """What each attempt met, consecutive repeats as one: `connect`, `HTTP 503`, `sent`."""
    met = [
        "sent" if outcome == "sent" else error.split(":")[0].removesuffix(" Service Unavailable")
        for outcome, error in message.attempts_made.values_list("outcome", "error")
    ]
    return [kind for kind, _ in itertools.groupby(met)]


def test_a_receiver_away_gets_the_outage_once_back_with_its_id_and_then_the_recovery(
    start_process: StartProcess,
    declaration: Path,
    receiver: WebhookReceiver,
    http_server: LocalHTTPServer,
) -> None:
    declare(declaration, receiver, http_server)  # the receiver refuses connections
    runprobes = start_process("runprobes", RUNPROBES, env=prober_env(declaration))
    until(lambda: statuses("api") == {"up"}, "up", receiver, [runprobes])
    failing(http_server)
    refused = Attempt.objects.filter(error__startswith="connect: connection refused")
    until(refused.exists, "an attempt refused", receiver, [runprobes])

    receiver.fail()
    until(lambda: receiver.met_with("503"), "an attempt answered 503", receiver, [runprobes])
    receiver.hang()
    # Its attempt settled too: a timeout, since the receiver never answered.
    hung = Attempt.objects.filter(error__startswith="timeout")
    until(lambda: receiver.met_with("hung") and hung.exists(), "hung on", receiver, [runprobes])
    healthy(http_server)
    until(lambda: statuses("api") == {"up"}, "up again", receiver, [runprobes])
    # The recovery waits behind the outage's message: not even formed while it is unsent.
    assert Message.objects.count() == 1
    receiver.accept()
    until(lambda: sent() == 2, "both sent", receiver, [runprobes])
    runprobes.stop()

    down, up = Message.objects.order_by("created_at")
    assert receiver.told() == [("api", "down"), ("api", "up")]
    assert list(receiver.deliveries()) == [down.id, up.id]
    assert [len(bodies) for bodies in receiver.deliveries().values()] == [1, 1]
    # Every attempt at the outage, refused or not, carried the one id and the one body.
    tried = [request for request in receiver.requests if request.id == down.id]
    assert len(tried) == len(receiver.requests) - 1
    assert len({request.body for request in tried}) == 1
    assert error_kinds(down) == ["connect", "HTTP 503", "timeout", "sent"]
    assert error_kinds(up) == ["sent"]


def settled() -> bool:
    """Nothing left to tell: every delivery and every message finished."""
    unfinished = Delivery.objects.filter(state__in=UNFINISHED).exists()
    return not unfinished and not Message.objects.exclude(state=MessageState.SENT).exists()


def events_by_dependency() -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for name, status in Event.objects.order_by("id").values_list("dependency__name", "status"):
        found[name].append(status)
    return dict(found)


def told_by_dependency(receiver: WebhookReceiver) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for name, status in receiver.told():
        found[name].append(status)
    return dict(found)


@pytest.mark.postgres
@pytest.mark.redis
def test_two_probers_and_two_celery_workers_deliver_every_event_once_in_order(
    start_process: StartProcess,
    celery: Celery,
    declaration: Path,
    receiver: WebhookReceiver,
    http_server: LocalHTTPServer,
) -> None:
    names = [f"dep-{n}" for n in range(10)]
    # A slow answer keeps each message in flight for a while: a second sender would have the
    # time to take it too, if claims did not keep senders apart.
    receiver.accept(delay=0.3)
    declare(declaration, receiver, http_server, names)
    env = prober_env(declaration)
    celery.env.update(HOOK_SECRET=HOOK_SECRET, **NOTIFY)
    processes = [
        start_process("runprobes-1", RUNPROBES, env=env),
        start_process("runprobes-2", RUNPROBES, env=env),
        celery.beat(),
        celery.worker("worker-1"),
        celery.worker("worker-2"),
    ]
    until(lambda: statuses(*names) == {"up"}, "all up", receiver, processes, 60)

    failing(http_server)
    until(lambda: statuses(*names) == {"down"}, "all down", receiver, processes)
    healthy(http_server)
    until(lambda: statuses(*names) == {"up"} and settled(), "all told", receiver, processes)
    for process in processes:
        process.stop()

    # Five processes probing ten dependencies on a busy machine: a probe may time out now
    # and then, and that change is told too. So the events are the reference, not a script.
    events = events_by_dependency()
    assert all(changes[-2:] == ["down", "up"] for changes in events.values()), events
    assert told_by_dependency(receiver) == events
    deliveries = receiver.deliveries()
    assert set(deliveries) == set(Message.objects.values_list("id", flat=True))
    assert {len(bodies) for bodies in deliveries.values()} == {1}
    assert settled()


def session_members(session: int) -> list[int]:
    """The processes still in a session (the runprobes the test started, and its children)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_a_sender_killed_before_marking_a_message_sends_it_again_with_the_same_id(
    start_process: StartProcess,
    declaration: Path,
    receiver: WebhookReceiver,
    http_server: LocalHTTPServer,
) -> None:
    receiver.accept()
    declare(declaration, receiver, http_server)
    first = start_process("runprobes", RUNPROBES, env=prober_env(declaration))
    until(lambda: statuses("api") == {"up"}, "up", receiver, [first])
    assert len(session_members(first.popen.pid)) >= 2  # runprobes and its probing child

    # The receiver reads the first delivery, kills runprobes and its child, then answers.
    receiver.kill_before_answering(first.popen.pid)
    failing(http_server)
    until(lambda: first.popen.poll() is not None, "killed", receiver)
    until(lambda: not session_members(first.popen.pid), "all its processes gone", receiver)
    assert first.popen.returncode == -signal.SIGKILL
    [message] = Message.objects.all()
    # Sent, never marked: pending still, claimed once, no attempt recorded.
    assert (message.state, message.attempts, message.attempts_made.count()) == ("pending", 1, 0)

    second = start_process("runprobes-again", RUNPROBES, env=prober_env(declaration))
    until(lambda: sent() == 1, "sent again after the lease", receiver, [second])
    second.stop()

    assert list(receiver.deliveries()) == [message.id]
    bodies = receiver.deliveries()[message.id]
    assert len(bodies) >= 2
    assert len(set(bodies)) == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("sent", len(bodies))
    assert receiver.told() == [("api", "down")] * len(bodies)


# Characters that base64, percent-encoding and JSON escaping all change.
CANARY_TOKEN = "t0k3n-c4n4ry/ABC+d=f"
CANARY_HOOK_SECRET = 'h00k-c4n4ry/S3cr3t+"q"'


def test_no_canary_secret_of_a_dependency_or_the_channel_reaches_the_receiver(
    start_process: StartProcess,
    declaration: Path,
    http_server: LocalHTTPServer,
) -> None:
    # Its failure quotes the whole request back, the header with the canary included.
    http_server.routes["/health"] = Route(
        status=500, reason=lambda request: request.text(), reply_to=lambda r: r.text().encode()
    )
    receiver = WebhookReceiver(CANARY_HOOK_SECRET)
    try:
        receiver.accept()
        headers = ', headers: {Authorization: "Bearer ${CANARY_TOKEN}", X-Key: "${CANARY_TOKEN}"}'
        declare(declaration, receiver, http_server, fields=headers)
        env = prober_env(declaration, HOOK_SECRET=CANARY_HOOK_SECRET, CANARY_TOKEN=CANARY_TOKEN)
        runprobes = start_process("runprobes", RUNPROBES, env=env)
        until(lambda: sent() == 1, "sent", receiver, [runprobes])
        runprobes.stop()
    finally:
        receiver.stop()

    # The peer did quote the canary back, and the event tells of it, scrubbed.
    sent_headers = [{k.lower(): v for k, v in h.items()} for _, _, h in http_server.requests]
    assert any(headers.get("x-key") == CANARY_TOKEN for headers in sent_headers)
    [request] = receiver.met_with("accepted")
    [event] = request.payload()["events"]
    assert "***" in event["error"]
    canaries = textual_forms(CANARY_TOKEN) | textual_forms(CANARY_HOOK_SECRET)
    leaks = [form for form in canaries if len(form) >= 4 and form in request.text()]
    assert leaks == []
