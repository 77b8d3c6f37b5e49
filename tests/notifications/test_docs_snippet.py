"""The receiver README.md shows, run as it is written against what seahealth
sends: it accepts our signed messages once each, and refuses a tampered or replayed one."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import HTTPServer
from typing import Any

import httpx
import pytest

from notifications import signing
from notifications.channels import webhook
from notifications.models import Channel, EventType, MessageState
from notifications.sender import send_test
from tests.conftest import ROOT
from tests.notifications.messages import Told, outgoing, send

pytestmark = pytest.mark.django_db

MARKER = "<!-- This block is run by tests/notifications/test_docs_snippet.py"
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def snippet() -> str:
    """The python block that follows the marker in the README."""
    document = (ROOT / "README.md").read_text()
    after = document[document.index(MARKER) :]
    return re.search(r"```python\n(.*?)```", after, re.DOTALL)[1]


@pytest.fixture
def receiver(monkeypatch) -> Iterator[tuple[str, dict[str, Any]]]:
    """The README's receiver, serving on loopback: its URL and its module's namespace."""
    monkeypatch.setenv("SEAHEALTH_WEBHOOK_SECRET", SECRET)
    namespace: dict[str, Any] = {"__name__": "receiver"}
    exec(compile(snippet(), "README.md", "exec"), namespace)  # noqa: S102
    server = HTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/seahealth", namespace
    server.shutdown()
    server.server_close()


def channel(url: str) -> Channel:
    return Channel.objects.create(
        name="ops-hook",
        type="webhook",
        config={"url": url, "secret": "${HOOK_SECRET}"},
        group_wait=timedelta(0),
        give_up_after=timedelta(hours=24),
    )


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(url, content=body, headers=headers, timeout=5).status_code


def test_the_snippet_uses_only_the_standard_library() -> None:
    imported = re.findall(r"^(?:from|import) (\w+)", snippet(), re.MULTILINE)

    assert set(imported) <= {"base64", "hashlib", "hmac", "json", "os", "time", "http"}


def test_the_receiver_accepts_a_test_message_seahealth_sends(receiver, monkeypatch) -> None:
    url, namespace = receiver
    monkeypatch.setenv("HOOK_SECRET", SECRET)

    tried = send_test(channel(url))

    assert tried.reply.sent, tried.reply.error
    assert tried.reply.status_code == 204
    assert namespace["handled"] == {tried.claimed.outgoing.id}


def test_the_receiver_refuses_a_message_signed_with_another_secret(receiver, monkeypatch) -> None:
    url, namespace = receiver
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + base64.b64encode(b"another key!").decode())

    tried = send_test(channel(url))

    assert tried.reply.status_code == 401
    assert tried.reply.permanent is True
    assert Channel.objects.get().messages.get().state == MessageState.DEAD
    assert namespace["handled"] == set()


def test_the_receiver_handles_an_event_once_however_often_it_comes(receiver, capsys) -> None:
    url, namespace = receiver
    message = outgoing(Told("payments-api", "down"))

    replies = [send(webhook, message, {"url": url, "secret": SECRET}) for _ in range(2)]

    assert [reply.status_code for reply in replies] == [204, 204]
    assert namespace["handled"] == {message.id}
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["payments-api is down since 2026-11-23T10:00:00Z"]


def signed(message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers as seahealth signs `body`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {"content-type": "application/json", **signing.headers(SECRET, message_id, stamp, body)}


BODY = json.dumps(
    {"id": "msg_1", "type": EventType.TEST, "service_status": "healthy", "events": []}
).encode()
TAMPERED = {
    "the body": lambda headers: (BODY.replace(b"healthy", b"unhealthy"), headers),
    "the id": lambda headers: (BODY, {**headers, "webhook-id": "msg_2"}),
    "the timestamp": lambda headers: (
        BODY,
        {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)},
    ),
    "no signature": lambda headers: (
        BODY,
        {name: value for name, value in headers.items() if name != "webhook-signature"},
    ),
    "a v2 signature": lambda headers: (
        BODY,
        {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")},
    ),
    "a timestamp that is not a number": lambda headers: (
        BODY,
        {**headers, "webhook-timestamp": "1.8e9"},
    ),
}


@pytest.mark.parametrize("tamper", TAMPERED.values(), ids=TAMPERED)
def test_the_receiver_refuses_a_tampered_message(receiver, tamper) -> None:
    url, namespace = receiver
    assert post(url, BODY, signed("msg_1", BODY)) == 204  # as sent, it is accepted
    namespace["handled"].clear()

    body, headers = tamper(signed("msg_1", BODY))

    assert post(url, body, headers) == 401
    assert namespace["handled"] == set()


@pytest.mark.parametrize("age", [-400, 400], ids=["from the future", "replayed"])
def test_the_receiver_refuses_a_message_outside_its_tolerance(receiver, age: int) -> None:
    url, namespace = receiver

    assert post(url, BODY, signed("msg_1", BODY, int(time.time()) - age)) == 401
    assert namespace["handled"] == set()


def test_the_receiver_takes_the_signature_that_matches_among_several(receiver) -> None:
    url, _ = receiver
    headers = signed("msg_1", BODY)
    headers["webhook-signature"] = f"v1,bm90IGl0 {headers['webhook-signature']} v2,eA=="

    assert post(url, BODY, headers) == 204
