"""Heartbeats and webhooks with real HTTP clients against runserver (and, for two deliveries
at once, two gunicorns on PostgreSQL), applied by a real runprobes."""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from inbound.models import Signal
from probes.models import Dependency
from tests.conftest import wait_for
from tests.e2e.site import Site
from tests.processes import StartProcess

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "nightly-0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
DECLARATION = """
dependencies:
  - name: nightly
    kind: heartbeat
    token: "${NIGHTLY_TOKEN}"
    expect_every: 2s
    grace: 1s
    interval: 1s
    timeout: 1s
    breaker: {recovery_timeout: 1s}
  - name: provider
    kind: webhook
    signature: {scheme: standard-webhooks, secret: "${PROVIDER_SECRET}"}
    status_path: component.status
    up: [operational]
    down: [major_outage]
    interval: 1s
    timeout: 1s
"""
SECRETS = {"NIGHTLY_TOKEN": TOKEN, "PROVIDER_SECRET": SECRET}


def row(name: str) -> Dependency:
    return Dependency.objects.get(name=name)


def signed(body: bytes, message_id: str, at: datetime | None = None, secret: str = SECRET):
    at = at or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
        "content-type": "application/json",
    }


def event(status: str) -> bytes:
    return json.dumps({"component": {"status": status}}).encode()


@pytest.fixture
def served(start_process: StartProcess, tmp_path: Path) -> Site:
    """runserver, and runprobes applying what it stores."""
    declaration = tmp_path / "dependencies.yaml"
    declaration.write_text(DECLARATION)
    site = Site(start_process, tmp_path, server="runserver")
    site.start(declaration, **SECRETS)
    wait_for(lambda: Dependency.objects.count() == 2)  # runprobes has synced the file
    return site


def test_a_cron_like_sender_that_stops_is_down_and_its_runs_are_measured(served) -> None:
    with httpx.Client(base_url=served.url, timeout=5) as http:
        # Runs every half second, for a while: up.
        for _ in range(6):
            assert http.get(f"/ping/{TOKEN}").text == "OK\n"
            time.sleep(0.5)
        wait_for(lambda: row("nightly").status == "up")
        # It stops: 2 s and 1 s of grace later, down.
        stopped = time.monotonic()
        wait_for(lambda: row("nightly").status == "down")
        assert time.monotonic() - stopped >= 2.0
        assert row("nightly").last_error.startswith("timeout: no ping since ")
        # A run measured from its start; up again.
        http.post(f"/ping/{TOKEN}/start")
        time.sleep(0.4)
        http.post(f"/ping/{TOKEN}")
        wait_for(lambda: row("nightly").status == "up")
        assert row("nightly").last_latency_ms >= 400
        # A failure, with the job's log.
        http.post(f"/ping/{TOKEN}/fail", content=b"disk full\n")
        wait_for(lambda: row("nightly").status == "down")
        assert row("nightly").last_error.endswith("the job reported a failure: disk full")
        # A stranger's token: the same answer.
        assert http.get("/ping/not-a-token").text == "OK\n"


def test_a_provider_that_signs_replays_tampers_and_floods(served) -> None:
    with httpx.Client(base_url=served.url, timeout=5) as http:
        body = event("major_outage")
        headers = signed(body, "msg_1")
        assert http.post("/hooks/provider", content=body, headers=headers).json() == {
            "received": True
        }
        replay = http.post("/hooks/provider", content=body, headers=headers)
        assert replay.json() == {"received": True, "duplicate": True}
        tampered = http.post("/hooks/provider", content=event("operational"), headers=headers)
        assert tampered.status_code == 401
        other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        wrong = http.post(
            "/hooks/provider", content=body, headers=signed(body, "msg_2", secret=other)
        )
        assert wrong.status_code == 401
        stale_at = datetime.now(UTC) - timedelta(minutes=10)
        stale = http.post("/hooks/provider", content=body, headers=signed(body, "m3", stale_at))
        assert stale.status_code == 401
        # A flood of forged events: each refused, none stored.
        forged = {**headers, "webhook-id": "forged"}
        assert {
            http.post("/hooks/provider", content=body, headers=forged).status_code
            for _ in range(150)
        } == {401}
        wait_for(lambda: row("provider").status == "down")
        assert (
            row("provider").last_error == "unexpected_response: the provider reports major_outage"
        )
    assert Signal.objects.count() == 1


def test_a_10_mb_body_is_refused_before_it_is_read_whole(served) -> None:
    # Headers announcing 10 MB, and a first kilobyte: the answer comes without the rest.
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
        connection.sendall(
            b"POST /hooks/provider HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n" + b"{" * 1024
        )
        answer = connection.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert Signal.objects.count() == 0


@pytest.mark.postgres
def test_two_web_processes_store_one_event_delivered_to_both_at_once(
    start_process: StartProcess, tmp_path: Path
) -> None:
    declaration = tmp_path / "dependencies.yaml"
    declaration.write_text(DECLARATION)
    sites = [Site(start_process, tmp_path, name=f"web-{n}") for n in range(2)]
    sites[0].start(declaration, **SECRETS)  # with runprobes: it syncs the declaration
    sites[1].start(**SECRETS)
    wait_for(lambda: Dependency.objects.filter(name="provider").exists())
    for attempt in range(10):
        body = event("operational")
        headers = signed(body, f"msg_{attempt}")
        barrier = threading.Barrier(2)
        answers: list[dict] = []

        def deliver(site: Site, body=body, headers=headers, barrier=barrier, answers=answers):
            with httpx.Client(base_url=site.url, timeout=10) as http:
                barrier.wait()
                answer = http.post("/hooks/provider", content=body, headers=headers)
                answers.append(answer.json())

        threads = [threading.Thread(target=deliver, args=(site,)) for site in sites]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answer.get("duplicate", False) for answer in answers) == [False, True]
        assert Signal.objects.filter(event_id=f"msg_{attempt}").count() == 1
