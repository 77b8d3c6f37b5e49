"""The Slack channel against a real incoming-webhook stand-in on loopback: a message a
person reads, escaped for Slack's mrkdwn, linking to the dependency's page."""

from __future__ import annotations

import json

import pytest

from notifications.channels import slack
from notifications.models import EventType
from tests.notifications.messages import BASE_URL, Told, burn, outgoing, send
from tests.servers import LocalHTTPServer, Route

pytestmark = pytest.mark.django_db


@pytest.fixture
def incoming(http_server: LocalHTTPServer) -> LocalHTTPServer:
    # Slack's incoming webhooks answer 200 "ok".
    http_server.routes["/services/T0/B0/x"] = Route(200, b"ok", headers={})
    return http_server


def posted_text(server: LocalHTTPServer) -> str:
    [request] = server.received
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert set(body) == {"text"}
    return body["text"]


def test_an_outage_reads_as_a_headline_then_a_line_with_its_error_and_link(
    incoming: LocalHTTPServer,
) -> None:
    reply = send(
        slack, outgoing(Told("payments-api", "down")), {"url": incoming.url("/services/T0/B0/x")}
    )

    assert reply.sent
    assert posted_text(incoming) == (
        "*payments-api is down*\n"
        ":red_circle: *payments-api* down since 2026-11-23T10:00:00Z: "
        "connect: connection refused "
        f"<{BASE_URL}/dependencies/payments-api/|details>"
    )


def test_a_recovery_says_up_again_without_the_old_error(incoming: LocalHTTPServer) -> None:
    message = outgoing(Told("search", "up", previous="down", error="stale"))

    send(slack, message, {"url": incoming.url("/services/T0/B0/x")})

    text = posted_text(incoming)
    assert text.splitlines()[0] == "*search is up again (was down)*"
    assert ":large_green_circle: *search* up since 2026-11-23T10:00:00Z" in text
    assert "stale" not in text


def test_several_events_are_counted_then_listed(incoming: LocalHTTPServer) -> None:
    message = outgoing(
        Told("payments-api", "down"),
        Told("search", "degraded", error="slow: 2.1s"),
        Told("mailer", "up", previous="down", error=""),
    )

    send(slack, message, {"url": incoming.url("/services/T0/B0/x")})

    lines = posted_text(incoming).splitlines()
    assert lines[0] == "*3 dependencies changed: payments-api down, search degraded, mailer up*"
    assert [line.split()[0] for line in lines[1:]] == [
        ":red_circle:",
        ":large_orange_circle:",
        ":large_green_circle:",
    ]


def test_text_from_the_dependency_is_escaped_so_it_cannot_mention_or_link(
    incoming: LocalHTTPServer,
) -> None:
    # An error quoting what a peer answered: it must not ping the channel nor make a link.
    error = "unexpected_response: '<!channel> see <https://evil.example.com|here> & pay'"

    send(slack, outgoing(Told(error=error)), {"url": incoming.url("/services/T0/B0/x")})

    text = posted_text(incoming)
    assert "&lt;!channel&gt; see &lt;https://evil.example.com|here&gt; &amp; pay" in text
    assert "<!channel>" not in text
    assert "<https://evil" not in text
    # Slack's own link markup stays: the one link is to our page.
    assert text.count("<") == 1


def test_a_test_message_says_the_channel_works(incoming: LocalHTTPServer) -> None:
    send(slack, outgoing(type=EventType.TEST), {"url": incoming.url("/services/T0/B0/x")})

    assert posted_text(incoming) == "*seahealth test notification: this channel works*"


def test_a_reminder_says_still_down_since_when(incoming: LocalHTTPServer) -> None:
    send(
        slack, outgoing(Told(), type=EventType.REMINDER), {"url": incoming.url("/services/T0/B0/x")}
    )

    assert posted_text(incoming).splitlines()[0] == (
        "*payments-api is still down (since 2026-11-23T10:00:00Z)*"
    )


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [(404, b"no_service", True), (403, b"invalid_token", True), (500, b"", False)],
)
def test_slacks_refusals_are_final_and_its_failures_retried(
    http_server: LocalHTTPServer, status: int, body: bytes, permanent: bool
) -> None:
    http_server.routes["/services/T0/B0/x"] = Route(status, body, headers={})

    reply = send(slack, outgoing(Told()), {"url": http_server.url("/services/T0/B0/x")})

    assert reply.sent is False
    assert reply.permanent is permanent
    assert reply.status_code == status
    # The URL is the secret: an error never quotes it.
    assert "/services/T0/B0/x" not in reply.error


def test_an_slo_burn_reads_as_its_severity_rule_budget_and_rates(incoming: LocalHTTPServer) -> None:
    send(slack, burn("page"), {"url": incoming.url("/services/T0/B0/x")})

    assert posted_text(incoming) == (
        "*checkout: SLO burn page (1h and 5m over 14.4), error budget 25% left (11 min)*\n"
        "SLO: 99.9% over 30d; error budget 25% left (11 min)\n"
        "burn rates (1 spends the budget in exactly the window; - too few checks): "
        "5m 20, 30m 8, 1h 20, 6h 3, 1d 1.5, 3d -\n"
        f"<{BASE_URL}/dependencies/checkout/|details>"
    )
