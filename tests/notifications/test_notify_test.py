"""manage.py notify_test CHANNEL: a seahealth.test message sent now to a real receiver on
loopback, what happened printed, and the exit code saying whether it was taken."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from notifications import signing
from notifications.models import Attempt, Channel, Message
from tests.conftest import ROOT
from tests.databases import subprocess_env
from tests.notifications.rows import make_channel
from tests.servers import LocalHTTPServer, Request, Route, unused_port

pytestmark = pytest.mark.django_db

SECRET = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM="


def notify_test(name: str) -> tuple[str, int]:
    """What the command printed, and its exit code."""
    out = io.StringIO()
    try:
        call_command("notify_test", name, stdout=out)
    except SystemExit as exited:
        return out.getvalue(), int(exited.code)
    return out.getvalue(), 0


def hook(server: LocalHTTPServer, status: int = 200, body: bytes = b"ok") -> Channel:
    server.routes["/hook"] = Route(status, body, headers={"Content-Type": "text/plain"})
    return make_channel("ops-hook", config={"url": server.url("/hook"), "secret": "${HOOK_SECRET}"})


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def test_a_receiver_that_takes_it_is_told_and_the_command_says_so(http_server) -> None:
    channel = hook(http_server)

    printed, code = notify_test("ops-hook")

    message = Message.objects.get()
    assert code == 0
    sending, sent = printed.splitlines()
    assert sending == (
        f"ops-hook (webhook): sending a seahealth.test message to {http_server.url('/hook')}"
    )
    assert re.fullmatch(rf"ops-hook: sent \(HTTP 200\) in \d+ ms, message {message.id}", sent)
    [(method, path, headers)] = http_server.requests
    assert (method, path, headers["webhook-id"]) == ("POST", "/hook", message.id)
    assert headers["webhook-signature"].startswith("v1,")
    assert (message.type, message.state, message.payload["events"]) == (
        "seahealth.test",
        "sent",
        [],
    )
    attempt = Attempt.objects.get()
    assert (attempt.outcome, attempt.status_code, attempt.error) == ("sent", 200, "")
    channel.refresh_from_db()
    assert (channel.sent_total, channel.failed_total, channel.dead_total) == (1, 0, 0)


def test_the_signature_is_the_one_a_receiver_checks(http_server) -> None:
    received: list[Request] = []

    def keep(request: Request) -> bytes:
        received.append(request)
        return b"ok"

    hook(http_server)
    http_server.routes["/hook"].reply_to = keep

    notify_test("ops-hook")

    [request] = received
    headers, body = request.headers, request.body
    expected = signing.signature(
        SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]), body
    )
    assert headers["webhook-signature"] == expected
    assert json.loads(body)["type"] == "seahealth.test"


def test_a_receiver_that_refuses_it_fails_with_exit_1_and_no_retry(http_server) -> None:
    channel = hook(http_server, 503, b"busy, come back later")

    printed, code = notify_test("ops-hook")

    message = Message.objects.get()
    assert code == 1
    assert re.fullmatch(
        rf"ops-hook: failed: HTTP 503 Service Unavailable: busy, come back later "
        rf"\(in \d+ ms, message {message.id}\)",
        printed.splitlines()[-1],
    )
    # A test is not retried: dead at once.
    assert message.state == "dead"
    assert Attempt.objects.get().next_attempt_at is None
    channel.refresh_from_db()
    assert (channel.sent_total, channel.dead_total) == (0, 1)


def test_a_receiver_nobody_runs_fails_with_a_connect_error() -> None:
    make_channel("ops-hook", config={"url": f"http://127.0.0.1:{unused_port()}/hook"})

    printed, code = notify_test("ops-hook")

    assert code == 1
    assert printed.splitlines()[-1].startswith("ops-hook: failed: connect: connection refused (in ")


def test_a_secret_the_environment_lacks_fails_naming_the_variable(monkeypatch) -> None:
    monkeypatch.delenv("HOOK_SECRET")
    server = LocalHTTPServer().start()
    try:
        hook(server)
        printed, code = notify_test("ops-hook")
    finally:
        server.stop()

    assert code == 1
    assert "failed: config: environment variable HOOK_SECRET is not set" in printed
    assert server.requests == []


def test_the_secret_is_never_printed(http_server) -> None:
    hook(http_server, 401, f"bad signature for key {SECRET}".encode())

    printed, code = notify_test("ops-hook")

    assert code == 1
    assert "HTTP 401" in printed
    assert SECRET not in printed
    assert "c2VjcmV0" not in printed


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nope", "no channel is named 'nope' (declared: ops-hook, ops-mail)"),
        (
            "old-hook",
            "channel 'old-hook' is archived: dependencies.yaml no longer declares it "
            "(declared: ops-hook, ops-mail)",
        ),
    ],
)
def test_an_unknown_or_archived_channel_is_refused_naming_the_declared_ones(
    name: str, expected: str
) -> None:
    make_channel("ops-hook")
    make_channel("ops-mail", "email", config={"to": ["ops@example.com"]})
    make_channel("old-hook", archived_at=timezone.now())

    with pytest.raises(CommandError) as refused:
        notify_test(name)

    assert str(refused.value) == expected
    assert not Message.objects.exists()


def test_with_no_channel_declared_it_says_how_to_declare_one() -> None:
    with pytest.raises(CommandError, match="declared: none: declare them under `notifications:"):
        notify_test("ops-hook")


@pytest.mark.django_db(transaction=True)
def test_as_a_process_a_refused_message_exits_1(http_server) -> None:
    hook(http_server, 410, b"gone")

    run = subprocess.run(
        [sys.executable, "manage.py", "notify_test", "ops-hook"],
        cwd=ROOT,
        env=subprocess_env(HOOK_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 1, run.stderr
    assert "ops-hook: failed: HTTP 410 Gone: gone (in " in run.stdout
    assert Message.objects.get().state == "dead"
