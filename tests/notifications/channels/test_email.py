"""The email channel through Django's SMTP backend to a real SMTP server (aiosmtpd) on
loopback: what the mail says, and what the server's refusals mean."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from notifications.channels import email
from notifications.models import EventType
from tests.notifications.messages import BASE_URL, Told, burn, outgoing, send
from tests.servers import HangingServer, unused_port

pytestmark = pytest.mark.django_db

TO = ["ops@example.com", "oncall@example.com"]


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts, and answers RCPT and DATA as told."""

    def __init__(self, rcpt: str = "250 OK", data: str = "250 OK") -> None:
        self.rcpt = rcpt
        self.data = data
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt

    async def handle_DATA(self, server, session, envelope):
        if self.data.startswith("250"):
            self.envelopes.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return self.data

    def mails(self) -> list[EmailMessage]:
        return [
            message_from_bytes(content, policy=policy.default) for *_, content in self.envelopes
        ]


@pytest.fixture
def smtp(settings) -> Iterator[Callable[..., Mailbox]]:
    """Starts an SMTP server and points Django's email settings at it."""
    controllers: list[Controller] = []

    def start(**answers: str) -> Mailbox:
        mailbox = Mailbox(**answers)
        controller = Controller(mailbox, hostname="127.0.0.1", port=unused_port())
        controller.start()
        controllers.append(controller)
        point_at(settings, controller.port)
        return mailbox

    yield start
    for controller in controllers:
        controller.stop()


def point_at(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "seahealth@status.example.com"


def test_an_outage_mail_names_the_dependency_and_status_with_its_error_and_link(smtp) -> None:
    mailbox = smtp()
    message = outgoing(Told("payments-api", "down"))

    reply = send(email, message, {"to": TO})

    assert reply.sent
    [(sender, recipients, _)] = mailbox.envelopes
    assert (sender, recipients) == ("seahealth@status.example.com", TO)
    [mail] = mailbox.mails()
    assert mail["Subject"] == "[seahealth] payments-api is down"
    assert mail["Message-ID"] == f"<{message.id}@seahealth>"
    assert mail["X-Seahealth-Id"] == message.id
    body = mail.get_content()
    assert "payments-api: down since 2026-11-23T10:00:00Z" in body
    assert "error: connect: connection refused" in body
    assert f"{BASE_URL}/dependencies/payments-api/" in body
    assert f"message id: {message.id}" in body


@pytest.mark.parametrize(
    ("told", "type", "subject"),
    [
        (Told("search", "degraded"), EventType.STATUS_CHANGED, "search is degraded"),
        (
            Told("search", "up", previous="down", error=""),
            EventType.STATUS_CHANGED,
            "search is up again (was down)",
        ),
        (
            Told("search", "down"),
            EventType.REMINDER,
            "search is still down (since 2026-11-23T10:00:00Z)",
        ),
    ],
    ids=["degraded", "up", "reminder"],
)
def test_the_subject_names_the_dependency_and_its_status(
    smtp, told: Told, type: str, subject: str
) -> None:
    mailbox = smtp()

    send(email, outgoing(told, type=type), {"to": TO})

    [mail] = mailbox.mails()
    assert mail["Subject"] == f"[seahealth] {subject}"


def test_a_recovery_mail_leaves_the_old_error_out(smtp) -> None:
    mailbox = smtp()

    send(email, outgoing(Told("search", "up", previous="down", error="was stale")), {"to": TO})

    [mail] = mailbox.mails()
    assert "was stale" not in mail.get_content()


def test_a_test_mail_says_the_channel_works(smtp) -> None:
    mailbox = smtp()

    send(email, outgoing(type=EventType.TEST), {"to": TO})

    [mail] = mailbox.mails()
    assert mail["Subject"] == "[seahealth] seahealth test notification: this channel works"


ANSWERS = {
    "DATA 554": ({"data": "554 5.7.1 message refused"}, 554, True),
    "DATA 451": ({"data": "451 4.3.0 try again later"}, 451, False),
    "RCPT 550": ({"rcpt": "550 5.1.1 no such user"}, 550, True),
    "RCPT 450 (greylisted)": ({"rcpt": "450 4.2.0 greylisted, come back later"}, 450, False),
}


@pytest.mark.parametrize(("answers", "code", "permanent"), ANSWERS.values(), ids=ANSWERS)
def test_a_5xx_is_final_and_a_4xx_is_tried_again(
    smtp, answers: dict[str, str], code: int, permanent: bool
) -> None:
    mailbox = smtp(**answers)

    reply = send(email, outgoing(Told()), {"to": TO})

    assert mailbox.envelopes == []
    assert reply.sent is False
    assert reply.status_code == code
    assert reply.permanent is permanent
    assert str(code) in reply.error


def test_a_refused_connection_is_tried_again(settings) -> None:
    point_at(settings, unused_port())

    reply = send(email, outgoing(Told()), {"to": TO})

    assert reply.permanent is False
    assert reply.error.startswith("connect: ")


def test_a_server_that_never_greets_costs_the_notify_timeout(
    settings, hanging_server: HangingServer
) -> None:
    point_at(settings, hanging_server.port)
    settings.SEAHEALTH_NOTIFY_TIMEOUT = 0.5
    started = time.monotonic()

    reply = send(email, outgoing(Told()), {"to": TO})

    assert time.monotonic() - started < 3
    assert reply.permanent is False
    assert reply.error.startswith("timeout: ")


def test_an_slo_burn_mail_says_the_severity_then_the_figures(smtp) -> None:
    mailbox = smtp()

    send(email, burn("resolved", previous="page", remaining=-0.5), {"to": TO})

    [mail] = mailbox.mails()
    assert mail["Subject"] == "[seahealth] checkout: SLO burn resolved (was page)"
    lines = mail.get_content().splitlines()
    assert lines[2] == "SLO: 99.9% over 30d; error budget overspent"
    assert lines[3].endswith("1h 20, 6h 3, 1d 1.5, 3d -")
    assert lines[4] == f"{BASE_URL}/dependencies/checkout/"
