"""The SMTP probe against real SMTP servers (aiosmtpd) on loopback, run through the engine."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from probes.declarations import parse_declaration
from probes.engine import run_batch
from probes.kinds import smtp
from probes.outcomes import ErrorClass, Outcome, Result
from tests.certificates import self_signed, server_context
from tests.conftest import entry_problems
from tests.factories import make_job
from tests.servers import HangingServer, LoopbackServer, unused_port

pytestmark = pytest.mark.no_database

USER, PASSWORD = "monitor", "correct-horse-battery"
ENVIRON = {"SMTP_USER": USER, "SMTP_PASSWORD": PASSWORD}
CREDENTIALS = {"username": "${SMTP_USER}", "password": "${SMTP_PASSWORD}"}
BANNER = "relay.test seahealth test relay"


def probe(spec: dict, timeout: float = 2.0, environ: dict | None = None, **job: Any) -> Outcome:
    one = make_job("smtp", spec, name="mailer", timeout=timeout, **job)
    [(_, outcome)] = asyncio.run(run_batch([one], environ=ENVIRON if environ is None else environ))
    return outcome


def step_names(outcome: Outcome) -> list[str]:
    return [step.name for step in outcome.steps]


# --- the peers ---------------------------------------------------------------------------


class Recorder:
    """An aiosmtpd handler that records the commands it gets, and takes no mail."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.ehlo_names: list[str] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.commands.append("EHLO")
        self.ehlo_names.append(hostname)
        session.host_name = hostname
        return responses

    async def handle_NOOP(self, server, session, envelope, arg):
        self.commands.append("NOOP")
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        self.commands.append("QUIT")
        return "221 Bye"

    # A probe must never get this far; these are here to notice if one does.
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.commands.append("MAIL")
        return "550 5.7.1 not here"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.commands.append("RCPT")
        return "550 5.7.1 not here"

    async def handle_DATA(self, server, session, envelope):
        self.commands.append("DATA")
        return "550 5.7.1 not here"


class Accounts:
    """An aiosmtpd authenticator that knows one user, and remembers every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((mechanism, login))
        if (login, password) == (USER, PASSWORD):
            return AuthResult(success=True)
        # A careless server that quotes what it was given: the probe must not pass it on.
        message = f"535 5.7.8 bad credentials {login}:{password}"
        return AuthResult(success=False, handled=False, message=message)


@dataclass
class SMTPServer:
    port: int
    handler: Recorder
    accounts: Accounts
    ca_file: str  # trusts the server's certificate

    def spec(self, tls: str, **fields: Any) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "tls": tls, **fields}


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Callable[..., SMTPServer]]:
    """Starts an aiosmtpd server: `tls` is what it offers (none, starttls or implicit)."""
    controllers: list[Controller] = []

    def start(tls: str = "starttls", days: int = 30, handler: Recorder | None = None):
        directory = tmp_path / f"server-{len(controllers)}"
        directory.mkdir()
        certificate = self_signed(directory, days=days)
        handler = handler or Recorder()
        accounts = Accounts()
        options: dict[str, Any] = {}
        if tls == "starttls":
            options["tls_context"] = server_context(certificate)
        elif tls == "implicit":
            options["ssl_context"] = server_context(certificate)
            # aiosmtpd sees only STARTTLS as TLS; over implicit TLS it must be told.
            options["auth_require_tls"] = False
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=unused_port(),
            server_hostname="relay.test",
            ident="seahealth test relay",
            authenticator=accounts,
            **options,
        )
        controller.start()
        controllers.append(controller)
        return SMTPServer(controller.port, handler, accounts, str(certificate))

    yield start
    for controller in controllers:
        controller.stop()


class ScriptedServer(LoopbackServer):
    """Sends `greeting` to each connection and hangs up: a relay that misbehaves at once."""

    threaded = False

    def __init__(self, greeting: bytes) -> None:
        self.greeting = greeting
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.sendall(self.greeting)


# --- up ----------------------------------------------------------------------------------


def test_starttls_and_auth_is_up_with_banner_extensions_and_certificate(smtp_server) -> None:
    server = smtp_server("starttls", days=90)
    outcome = probe(server.spec("starttls", **CREDENTIALS), ca_file=server.ca_file)
    assert outcome.result is Result.SUCCESS, outcome.error
    observations = outcome.observations
    assert observations["banner"] == BANNER
    # Offered after TLS, as the session is used: AUTH now, STARTTLS no longer.
    assert "AUTH" in observations["extensions"]
    assert "STARTTLS" not in observations["extensions"]
    assert observations["extensions"] == sorted(observations["extensions"])
    assert observations["tls_version"] in {"TLSv1.2", "TLSv1.3"}
    assert observations["tls_cert_subject"] == "127.0.0.1"
    expires = datetime.strptime(observations["tls_cert_not_after"], "%Y-%m-%dT%H:%M:%SZ")
    assert timedelta(days=89) < expires.replace(tzinfo=UTC) - datetime.now(UTC) <= timedelta(90)
    assert step_names(outcome) == ["connect", "EHLO", "STARTTLS", "EHLO", "AUTH", "NOOP", "QUIT"]
    assert all(step.ok for step in outcome.steps)
    assert server.accounts.attempts == [("PLAIN", USER)]
    assert server.handler.commands == ["EHLO", "EHLO", "NOOP", "QUIT"]  # no MAIL, RCPT, DATA
    assert PASSWORD not in repr(outcome)


def test_the_latency_is_the_noop_round_trip(smtp_server) -> None:
    server = smtp_server("starttls")
    outcome = probe(server.spec("starttls", **CREDENTIALS), ca_file=server.ca_file)
    [noop] = [step for step in outcome.steps if step.name == "NOOP"]
    assert outcome.latency_ms == round(noop.ms, 3)
    assert outcome.latency_ms < sum(step.ms for step in outcome.steps)


def test_implicit_tls_and_auth_is_up(smtp_server) -> None:
    server = smtp_server("implicit")
    outcome = probe(server.spec("implicit", **CREDENTIALS), ca_file=server.ca_file)
    assert outcome.result is Result.SUCCESS, outcome.error
    assert outcome.observations["banner"] == BANNER
    assert outcome.observations["tls_version"] in {"TLSv1.2", "TLSv1.3"}
    assert "tls_cert_not_after" in outcome.observations
    assert "AUTH" in outcome.observations["extensions"]
    assert step_names(outcome) == ["connect", "EHLO", "AUTH", "NOOP", "QUIT"]
    assert server.accounts.attempts == [("PLAIN", USER)]
    assert server.handler.commands == ["EHLO", "NOOP", "QUIT"]


def test_tls_none_stays_in_the_clear_even_when_starttls_is_offered(smtp_server) -> None:
    server = smtp_server("starttls")
    outcome = probe(server.spec("none"), ca_file=server.ca_file)
    assert outcome.result is Result.SUCCESS, outcome.error
    assert "STARTTLS" in outcome.observations["extensions"]
    assert not [key for key in outcome.observations if key.startswith("tls_")]
    assert step_names(outcome) == ["connect", "EHLO", "NOOP", "QUIT"]
    assert server.handler.commands == ["EHLO", "NOOP", "QUIT"]


def test_ehlo_names_the_declared_ehlo_name(smtp_server) -> None:
    server = smtp_server("none")
    assert probe(server.spec("none", ehlo_name="probe.example.org")).ok
    assert probe(server.spec("none")).ok
    assert server.handler.ehlo_names == ["probe.example.org", smtp.local_name()]


def test_a_certificate_close_to_expiry_is_degraded(smtp_server) -> None:
    server = smtp_server("starttls", days=3)
    outcome = probe(server.spec("starttls"), ca_file=server.ca_file, cert_expiry_warn=14 * 86400)
    assert outcome.result is Result.DEGRADED
    [warning] = outcome.warnings
    assert warning.startswith("TLS certificate expires in 3 days (")


# --- down --------------------------------------------------------------------------------


def test_starttls_declared_but_not_offered_is_a_tls_error(smtp_server) -> None:
    server = smtp_server("none")
    outcome = probe(server.spec("starttls", **CREDENTIALS), ca_file=server.ca_file)
    assert (outcome.error_class, outcome.detail) == (ErrorClass.TLS, "STARTTLS not offered")
    assert outcome.observations["banner"] == BANNER
    assert "STARTTLS" not in outcome.observations["extensions"]
    assert step_names(outcome) == ["connect", "EHLO", "STARTTLS"]
    assert not outcome.steps[-1].ok
    assert server.accounts.attempts == []  # the password never went out in the clear


def test_a_wrong_password_is_an_auth_error_after_one_attempt(smtp_server) -> None:
    server = smtp_server("starttls")
    environ = {"SMTP_USER": USER, "SMTP_PASSWORD": "wrong-password"}
    outcome = probe(server.spec("starttls", **CREDENTIALS), environ=environ, ca_file=server.ca_file)
    assert outcome.error_class is ErrorClass.AUTH
    # The server quoted the credentials back; the engine scrubbed them whole (user:password).
    assert outcome.detail == "login rejected: 535 5.7.8 bad credentials ***"
    assert "wrong-password" not in repr(outcome)
    assert outcome.observations["tls_version"] in {"TLSv1.2", "TLSv1.3"}
    assert step_names(outcome)[-1] == "AUTH"
    assert server.accounts.attempts == [("PLAIN", USER)]  # one failed login, not one per mechanism
    assert "NOOP" not in server.handler.commands


def test_auth_not_offered_is_an_auth_error(smtp_server) -> None:
    # aiosmtpd, like most relays, offers AUTH only over TLS.
    server = smtp_server("starttls")
    outcome = probe(server.spec("none", **CREDENTIALS))
    assert (outcome.error_class, outcome.detail) == (
        ErrorClass.AUTH,
        "AUTH not offered without TLS",
    )
    assert server.accounts.attempts == []


@pytest.mark.parametrize(
    ("greeting", "error_class", "detail"),
    [
        (
            b"220 relay.test ESMTP\r\n",
            ErrorClass.PROTOCOL,
            "server closed the connection after the banner",
        ),
        (b"", ErrorClass.PROTOCOL, "server closed the connection before the banner"),
        (
            b"554 5.3.2 no service here\r\n",
            ErrorClass.UNEXPECTED_RESPONSE,
            "banner: 554 5.3.2 no service here",
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            ErrorClass.PROTOCOL,
            "banner: Malformed SMTP response line: HTTP/1.1 400 Bad Request",
        ),
    ],
)
def test_a_server_that_misbehaves_at_once(greeting, error_class, detail) -> None:
    server = ScriptedServer(greeting)
    try:
        outcome = probe({"host": "127.0.0.1", "port": server.port, "tls": "none"})
    finally:
        server.stop()
    assert (outcome.error_class, outcome.detail) == (error_class, detail)


def test_the_banner_is_observed_when_the_server_hangs_up_after_it() -> None:
    server = ScriptedServer(b"220 relay.test ESMTP " + b"x" * 500 + b"\r\n")
    try:
        outcome = probe({"host": "127.0.0.1", "port": server.port, "tls": "none"})
    finally:
        server.stop()
    assert outcome.error_class is ErrorClass.PROTOCOL
    banner = outcome.observations["banner"]
    assert banner.startswith("relay.test ESMTP xxx")
    assert banner.endswith("...")
    assert len(banner) == smtp.BANNER_LENGTH


class RefusesNoop(Recorder):
    async def handle_NOOP(self, server, session, envelope, arg):
        self.commands.append("NOOP")
        return "421 4.3.2 shutting down"


def test_a_reply_that_is_not_2xx_is_an_unexpected_response(smtp_server) -> None:
    server = smtp_server("none", handler=RefusesNoop())
    outcome = probe(server.spec("none"))
    assert outcome.error_class is ErrorClass.UNEXPECTED_RESPONSE
    assert outcome.detail == "NOOP: 421 4.3.2 shutting down"
    assert outcome.observations["banner"] == BANNER


def test_connection_refused_is_a_connect_error() -> None:
    outcome = probe({"host": "127.0.0.1", "port": unused_port(), "tls": "none"})
    assert (outcome.error_class, outcome.detail) == (ErrorClass.CONNECT, "connection refused")
    assert step_names(outcome) == ["connect"]


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    # .invalid never resolves (RFC 6761), with or without a network.
    outcome = probe({"host": "seahealth-test.invalid", "port": 25, "tls": "none"}, timeout=5)
    assert outcome.error_class is ErrorClass.DNS
    assert outcome.detail.startswith("cannot resolve host")


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_an_untrusted_certificate_is_a_tls_error(smtp_server, tls) -> None:
    server = smtp_server(tls)
    outcome = probe(server.spec(tls, **CREDENTIALS))  # no ca_file: the system's CAs only
    assert outcome.error_class is ErrorClass.TLS
    assert outcome.detail == "certificate verify failed: self-signed certificate"
    assert server.accounts.attempts == []


def test_an_expired_certificate_is_a_tls_error(smtp_server) -> None:
    server = smtp_server("starttls", days=-2)
    outcome = probe(server.spec("starttls"), ca_file=server.ca_file)
    assert outcome.error_class is ErrorClass.TLS
    assert outcome.detail == "certificate verify failed: certificate has expired"


def test_implicit_tls_to_a_plain_server_is_a_tls_error(smtp_server) -> None:
    server = smtp_server("none")
    outcome = probe(server.spec("implicit"), ca_file=server.ca_file)
    assert outcome.error_class is ErrorClass.TLS


def test_a_missing_ca_file_is_a_config_error(smtp_server, tmp_path) -> None:
    server = smtp_server("starttls")
    outcome = probe(server.spec("starttls"), ca_file=str(tmp_path / "missing.pem"))
    assert outcome.error_class is ErrorClass.CONFIG
    assert outcome.detail.startswith(f"ca_file {tmp_path / 'missing.pem'}: ")
    assert server.handler.commands == []


def test_an_unset_password_variable_is_a_config_error_and_nothing_is_sent(smtp_server) -> None:
    server = smtp_server("starttls")
    outcome = probe(server.spec("starttls", **CREDENTIALS), environ={"SMTP_USER": USER})
    assert outcome.error_class is ErrorClass.CONFIG
    assert "SMTP_PASSWORD" in outcome.detail
    assert server.handler.commands == []


def test_a_host_from_the_environment_with_a_line_break_is_a_config_error() -> None:
    outcome = probe({"host": "${SMTP_HOST}", "port": 25}, environ={"SMTP_HOST": "mx\r\nQUIT"})
    assert outcome.error_class is ErrorClass.CONFIG


# --- deadlines ---------------------------------------------------------------------------


@pytest.mark.parametrize("tls", ["none", "starttls", "implicit"])
def test_a_server_that_never_sends_a_banner_is_a_timeout_at_the_deadline(tls) -> None:
    hanging = HangingServer()
    started = time.monotonic()
    try:
        outcome = probe({"host": "127.0.0.1", "port": hanging.port, "tls": tls}, timeout=0.5)
    finally:
        hanging.stop()
    elapsed = time.monotonic() - started
    assert outcome.error_class is ErrorClass.TIMEOUT
    assert outcome.detail == "no answer within 500ms (connect)"
    assert elapsed < 0.5 + 2.5  # a wide margin for slow hosts


class HangsOnNoop(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.hung_up = threading.Event()

    async def handle_NOOP(self, server, session, envelope, arg):
        self.commands.append("NOOP")
        try:
            await asyncio.Event().wait()
        finally:  # aiosmtpd cancels the session when the client hangs up
            self.hung_up.set()


def test_a_probe_cut_by_its_deadline_hangs_up(smtp_server) -> None:
    handler = HangsOnNoop()
    server = smtp_server("starttls", handler=handler)
    job = make_job("smtp", server.spec("starttls"), timeout=0.5, ca_file=server.ca_file)

    async def probe_then_wait() -> tuple[Outcome, bool]:
        [(_, outcome)] = await run_batch([job], environ={})
        # Still in the event loop that ran the probe, so a connection left open stays open.
        return outcome, await asyncio.to_thread(handler.hung_up.wait, 2)

    outcome, hung_up = asyncio.run(probe_then_wait())
    assert (outcome.error_class, outcome.detail) == (
        ErrorClass.TIMEOUT,
        "no answer within 500ms (NOOP)",
    )
    assert hung_up


# --- the declaration ---------------------------------------------------------------------


def parse(fields: str) -> list[str]:
    return entry_problems(f"name: mailer, kind: smtp, {fields}")


def test_reads_every_field_and_keeps_placeholders() -> None:
    text = """
dependencies:
  - name: mailer
    kind: smtp
    host: smtp.example.com
    port: 2525
    tls: implicit
    username: ${SMTP_USER}
    password: ${SMTP_PASSWORD}
    ehlo_name: probe.example.org
"""
    [spec] = parse_declaration(text, "deps.yaml")
    assert spec.target == smtp.Spec(
        host="smtp.example.com",
        port=2525,
        tls="implicit",
        username="${SMTP_USER}",
        password="${SMTP_PASSWORD}",
        ehlo_name="probe.example.org",
    )
    assert spec.row_values()["spec"]["password"] == "${SMTP_PASSWORD}"


@pytest.mark.parametrize(
    ("fields", "tls", "port"),
    [
        ("host: mx.example.com", "starttls", 587),
        ("host: mx.example.com, tls: starttls", "starttls", 587),
        ("host: mx.example.com, tls: implicit", "implicit", 465),
        ("host: mx.example.com, tls: none", "none", 25),
        ("host: mx.example.com, tls: none, port: 2525", "none", 2525),
    ],
)
def test_the_port_defaults_by_tls(fields, tls, port) -> None:
    [spec] = parse_declaration(f"dependencies:\n  - {{name: m, kind: smtp, {fields}}}\n", "d")
    assert (spec.target.tls, spec.target.port) == (tls, port)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ("port: 25", "host: required"),
        ("host: 'smtp://mx.example.com'", "host: 'smtp://mx.example.com' is not a host name"),
        ("host: mx.example.com, tls: ssl", "tls: 'ssl' is not one of: none, starttls, implicit"),
        ("host: mx.example.com, port: '587'", "port: expected an integer"),
        ("host: mx.example.com, port: 70000", "port: must be at most 65535"),
        ("host: mx.example.com, port: 0", "port: must be at least 1"),
        (
            "host: mx.example.com, username: u, password: hunter2",
            "password: holds a credential written out: write it as ${VAR}",
        ),
        ("host: mx.example.com, username: u", "password: required when username is set"),
        ("host: mx.example.com, password: '${P}'", "password: given without username"),
        ("host: mx.example.com, username: '', password: '${P}'", "username: is empty"),
        (
            "host: mx.example.com, tls: none, username: u, password: '${P}'",
            "username: with tls: none the password would cross the network in clear text",
        ),
        ("host: mx.example.com, ehlo_name: 'my host'", "ehlo_name: 'my host' is not a host name"),
        ("host: mx.example.com, url: 'https://x.example'", "url: unknown field"),
    ],
)
def test_refuses(fields, problem) -> None:
    problems = parse(fields)
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize(
    ("spec", "described"),
    [
        (
            smtp.Spec(host="mail.example.com", port=587, **CREDENTIALS),
            "smtp://mail.example.com:587 (starttls, auth as ${SMTP_USER})",
        ),
        (
            smtp.Spec(host="mx.example.com", port=25, tls="none"),
            "smtp://mx.example.com:25 (no TLS)",
        ),
        (smtp.Spec(host="::1", port=465, tls="implicit"), "smtp://[::1]:465 (implicit TLS)"),
    ],
)
def test_describe_never_shows_the_password(spec, described) -> None:
    assert smtp.describe(spec) == described
