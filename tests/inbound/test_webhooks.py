"""Signed webhooks: signed by independent code (the Standard Webhooks reference library, or a
hand-rolled HMAC as GitHub signs), checked on the raw body, stored once, applied by the
prober's tick."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from standardwebhooks.webhooks import Webhook

from inbound import applying
from inbound.models import Signal
from inbound.views import EVENTS_PER_MINUTE, LONGEST_EVENT
from probes.declarations import parse_declaration
from probes.models import Dependency
from probes.sync import sync

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
GITHUB_SECRET = "it-is-a-long-shared-secret"
DECLARATION = """
dependencies:
  - name: provider
    kind: webhook
    signature: {scheme: standard-webhooks, secret: "${PROVIDER_SECRET}"}
    status_path: component.status
    up: [operational]
    degraded: [degraded_performance]
    down: [partial_outage, major_outage]
  - name: github
    kind: webhook
    signature: {scheme: hmac-sha256, header: X-Hub-Signature-256, prefix: "sha256=",
                secret: "${GITHUB_SECRET}"}
    id_header: X-GitHub-Delivery
    status_path: status.indicator
    up: [none]
    down: [major, critical]
"""


@pytest.fixture(autouse=True)
def declared(monkeypatch) -> None:
    monkeypatch.setenv("PROVIDER_SECRET", SECRET)
    monkeypatch.setenv("GITHUB_SECRET", GITHUB_SECRET)
    sync(parse_declaration(DECLARATION, "deps.yaml"))


def event(status: str) -> bytes:
    return json.dumps({"type": "component.updated", "component": {"status": status}}).encode()


def signed(body: bytes, message_id: str = "msg_1", at: datetime | None = None) -> dict:
    """Headers the reference library signs `body` with, as a provider would send them."""
    at = at or datetime.now(UTC)
    signature = Webhook(SECRET).sign(message_id, at, body.decode())
    return {
        "HTTP_WEBHOOK_ID": message_id,
        "HTTP_WEBHOOK_TIMESTAMP": str(int(at.timestamp())),
        "HTTP_WEBHOOK_SIGNATURE": signature,
    }


def post(client, body: bytes, name: str = "provider", **headers):
    return client.post(f"/hooks/{name}", data=body, content_type="application/json", **headers)


def status_after_tick(name: str = "provider") -> Dependency:
    applying.tick()
    return Dependency.objects.get(name=name)


def test_a_signed_event_is_stored_answered_then_applied(client) -> None:
    assert status_after_tick().status == "unknown"
    body = event("major_outage")
    response = post(client, body, **signed(body))
    assert (response.status_code, response.json()) == (200, {"received": True})
    # Stored, and not yet applied: the answer came first.
    assert Signal.objects.get().applied_at is None
    row = status_after_tick()
    assert (row.status, row.last_error) == (
        "down",
        "unexpected_response: the provider reports major_outage",
    )
    # The provider says it is back: taken at the breaker's trial, as for a probe.
    body = event("operational")
    post(client, body, **signed(body, "msg_2"))
    assert status_after_tick().status == "down"
    with freeze_time(datetime.now(UTC) + timedelta(seconds=61)):
        assert status_after_tick().status == "up"


def test_degraded_and_an_unlisted_status_are_degraded(client) -> None:
    for n, (value, warning) in enumerate(
        [
            ("degraded_performance", "the provider reports degraded_performance"),
            ("under_maintenance", "which none of up, degraded, down lists"),
        ]
    ):
        body = event(value)
        post(client, body, **signed(body, f"msg_{n}"))
        row = status_after_tick()
        assert row.status == "degraded"
        assert warning in row.last_warnings[0]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda body, h: (body, {**h, "HTTP_WEBHOOK_SIGNATURE": "v1,AAAA"}), "does not match"),
        (lambda body, h: (body.replace(b"major", b"minor"), h), "does not match"),
        (
            lambda body, h: (body, {k: v for k, v in h.items() if k != "HTTP_WEBHOOK_SIGNATURE"}),
            "missing webhook-id, webhook-timestamp or webhook-signature",
        ),
        (lambda body, h: (body, {**h, "HTTP_WEBHOOK_TIMESTAMP": "soon"}), "not Unix seconds"),
    ],
    ids=["wrong-signature", "altered-body", "unsigned", "bad-timestamp"],
)
def test_a_bad_or_missing_signature_is_401_and_stores_nothing(client, tamper, reason) -> None:
    body, headers = tamper(event("major_outage"), signed(event("major_outage")))
    response = post(client, body, **headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert Signal.objects.count() == 0


def test_a_wrong_secret_is_401(client) -> None:
    body = event("major_outage")
    at = datetime.now(UTC)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    headers = signed(body, at=at) | {
        "HTTP_WEBHOOK_SIGNATURE": Webhook(other).sign("msg_1", at, body.decode())
    }
    assert post(client, body, **headers).status_code == 401
    assert Signal.objects.count() == 0


def test_a_stale_timestamp_is_401(client) -> None:
    body = event("major_outage")
    sent = datetime.now(UTC) - timedelta(minutes=6)
    response = post(client, body, **signed(body, at=sent))
    assert response.status_code == 401
    assert "past the tolerance" in response.json()["error"]
    assert Signal.objects.count() == 0


def test_a_replay_is_answered_200_and_applied_once(client) -> None:
    body = event("major_outage")
    headers = signed(body)
    assert post(client, body, **headers).json() == {"received": True}
    assert post(client, body, **headers).json() == {"received": True, "duplicate": True}
    assert Signal.objects.count() == 1


def test_an_event_over_the_limit_is_413_before_it_is_read(client) -> None:
    body = b"x" * (10 * 1024 * 1024)
    response = post(client, body, **signed(b"{}"))
    assert response.status_code == 413
    assert f"at most {LONGEST_EVENT // 1024} KiB" in response.json()["error"]
    assert Signal.objects.count() == 0


def test_a_github_style_hmac_with_its_delivery_id(client) -> None:
    body = json.dumps({"status": {"indicator": "major"}}).encode()
    digest = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"HTTP_X_HUB_SIGNATURE_256": f"sha256={digest}", "HTTP_X_GITHUB_DELIVERY": "d-1"}
    assert post(client, body, "github", **headers).status_code == 200
    assert post(client, body, "github", **headers).json()["duplicate"] is True
    assert Signal.objects.get().event_id == "d-1"
    assert status_after_tick("github").status == "down"
    headers["HTTP_X_HUB_SIGNATURE_256"] = "sha256=" + "0" * 64
    assert post(client, body, "github", **headers).status_code == 401


def test_an_unknown_hook_is_404_and_a_get_405(client) -> None:
    assert post(client, b"{}", "nobody").status_code == 404
    assert client.get("/hooks/provider").status_code == 405


def test_a_secret_not_set_on_this_server_is_503_naming_the_variable(client, monkeypatch) -> None:
    monkeypatch.delenv("PROVIDER_SECRET")
    body = event("operational")
    response = post(client, body, **signed(body))
    assert response.status_code == 503
    assert "PROVIDER_SECRET" in response.json()["error"]
    assert SECRET not in response.content.decode()


def test_events_are_pruned_after_a_day_and_their_ids_kept_until_then(client) -> None:
    from probes import retention

    body = event("operational")
    post(client, body, **signed(body))
    applying.tick()
    with freeze_time(datetime.now(UTC) + timedelta(hours=24)):
        assert retention.prune()["webhook_events"] == 0
    with freeze_time(datetime.now(UTC) + timedelta(hours=26)):
        assert retention.prune()["webhook_events"] == 1
    assert time.time()  # the real clock again


def test_a_flood_of_signed_events_is_asked_to_come_back_and_stores_at_most_the_rate(
    client,
) -> None:
    answers = []
    for n in range(EVENTS_PER_MINUTE + 5):
        body = event("operational")
        answers.append(post(client, body, **signed(body, f"flood_{n}")))
    assert [a.status_code for a in answers].count(200) == EVENTS_PER_MINUTE
    last = answers[-1]
    assert (last.status_code, last["Retry-After"]) == (429, "60")
    assert Signal.objects.count() == EVENTS_PER_MINUTE
