"""SMTP relays: banner, EHLO, STARTTLS, AUTH, NOOP and QUIT. No mail is ever sent."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiosmtplib

from probes import tls
from probes.classify import causes, classify_network_error
from probes.context import ProbeContext
from probes.excerpts import excerpt, shorten
from probes.fields import Fields
from probes.outcomes import ErrorClass, Outcome, ProbeError

TLS_MODES = ("none", "starttls", "implicit")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "implicit": 465}
BANNER_LENGTH = 200
LONGEST_HOST = 255  # a DNS name's limit; for a user name, as many
# A host name or an address literal ([192.0.2.1], [IPv6:2001:db8::1]), as EHLO takes it.
_EHLO_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[A-Za-z0-9.:]+\]")
# A name or an address: not a URL, no userinfo, no spaces.
_HOST = re.compile(r"[^\s/@]+")
# RFC 4954: the server does not take the mechanism it advertised; another may do.
_UNRECOGNIZED_MECHANISM = 504


@dataclass(frozen=True, kw_only=True)
class Spec:
    host: str
    port: int
    tls: str = "starttls"
    username: str | None = None  # AUTH is tried only when set
    password: str | None = None
    # None: the host name of the machine that runs the probe (not the one that parsed it).
    ehlo_name: str | None = None


def parse(fields: Fields) -> Spec:
    host = fields.string("host", longest=LONGEST_HOST)
    if isinstance(host, str) and not _HOST.fullmatch(host):
        fields.problem("host", f"{excerpt(host)} is not a host name or address (no scheme or path)")
    mode = fields.string("tls", "starttls", choices=TLS_MODES)
    default_port = DEFAULT_PORTS.get(mode, DEFAULT_PORTS["starttls"])
    port = fields.integer("port", default_port, minimum=1, maximum=65535)
    username = fields.string("username", None, longest=LONGEST_HOST)
    if username == "":
        fields.problem("username", "is empty: leave it out to skip AUTH")
    password = fields.secret("password", None)
    if username is not None and password is None:
        fields.problem("password", "required when username is set")
    elif username is None and password is not None:
        fields.problem("password", "given without username: AUTH is tried only with both")
    if username is not None and mode == "none":
        fields.problem(
            "username", "with tls: none the password would cross the network in clear text"
        )
    return Spec(
        host=host,
        port=port,
        tls=mode,
        username=username,
        password=password,
        ehlo_name=fields.string(
            "ehlo_name",
            None,
            longest=LONGEST_HOST,
            pattern=_EHLO_NAME,
            pattern_help="is not a host name or an address literal like [192.0.2.1]",
        ),
    )


def speaks_tls(spec: Spec) -> bool:
    return spec.tls != "none"


def describe(spec: Spec) -> str:
    host = f"[{spec.host}]" if ":" in spec.host else spec.host
    mode = {"none": "no TLS", "implicit": "implicit TLS"}.get(spec.tls, spec.tls)
    auth = f", auth as {spec.username}" if spec.username else ""
    return f"smtp://{host}:{spec.port} ({mode}{auth})"


async def probe(spec: Spec, ctx: ProbeContext) -> Outcome:
    try:
        client = aiosmtplib.SMTP(
            hostname=spec.host,
            port=spec.port,
            local_hostname=spec.ehlo_name or local_name(),
            use_tls=spec.tls == "implicit",
            # STARTTLS only as its own step, and only when declared.
            start_tls=False,
            tls_context=ctx.ssl_context if spec.tls != "none" else None,
            # The engine enforces the probe's deadline from outside; a second clock here
            # would only race it.
            timeout=None,
        )
    except ValueError as exc:  # a host from the environment with a line break in it
        raise ProbeError(ErrorClass.CONFIG, str(exc)) from exc
    observations: dict[str, Any] = {}
    try:
        with _step(ctx, "connect", observations, closed="before the banner"):
            banner = await client.connect()
            observations["banner"] = _shorten(banner.message)
            if spec.tls == "implicit":
                observations.update(_tls_observations(client))
        with _step(ctx, "EHLO", observations, closed="after the banner"):
            await client.ehlo()
        if spec.tls == "starttls":
            with _step(ctx, "STARTTLS", observations):
                if not client.supports_extension("starttls"):
                    observations["extensions"] = _extensions(client)
                    raise ProbeError(ErrorClass.TLS, "STARTTLS not offered")
                await client.starttls()
                observations.update(_tls_observations(client))
            # RFC 3207: what the server offered before TLS no longer holds; ask again.
            with _step(ctx, "EHLO", observations):
                await client.ehlo()
        # What the session offers as used: after STARTTLS, which is then no longer offered.
        observations["extensions"] = _extensions(client)
        if spec.username is not None:
            with _step(ctx, "AUTH", observations):
                await _authenticate(client, spec)
        with _step(ctx, "NOOP", observations):
            await client.noop()
        # The peer's latency: one round trip on the session set up (NOOP, nothing else).
        latency = ctx.steps[-1].ms
        with _step(ctx, "QUIT", observations):
            await client.quit()
    finally:
        # A failure or the deadline's cancellation must not leave the connection open.
        client.close()
    return Outcome(observations=observations, latency_ms=round(latency, 3))


def local_name() -> str:
    # Not socket.getfqdn(): it can wait on DNS for seconds, and EHLO only needs a name.
    name = socket.gethostname()
    return name if _EHLO_NAME.fullmatch(name) else "localhost"


async def _authenticate(client: aiosmtplib.SMTP, spec: Spec) -> None:
    if not client.supports_extension("auth"):
        clear = " without TLS" if spec.tls == "none" else ""
        raise ProbeError(ErrorClass.AUTH, f"AUTH not offered{clear}")
    methods = {
        "cram-md5": client.auth_crammd5,
        "plain": client.auth_plain,
        "login": client.auth_login,
    }
    # In aiosmtplib's order of preference.
    mechanisms = [name for name in client.supported_auth_methods if name in methods]
    if not mechanisms:
        offered = " ".join(client.server_auth_methods).upper() or "none"
        raise ProbeError(
            ErrorClass.AUTH,
            f"no AUTH mechanism in common (the server offers {offered}; "
            "seahealth speaks CRAM-MD5, PLAIN and LOGIN)",
        )
    username, password = spec.username or "", spec.password or ""
    for mechanism in mechanisms:
        try:
            await methods[mechanism](username, password)
            return
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Any answer but "unrecognized mechanism" is the verdict: a wrong password is
            # one failed login per probe, not one per mechanism (lockouts count them).
            if exc.code != _UNRECOGNIZED_MECHANISM or mechanism == mechanisms[-1]:
                raise


@contextmanager
def _step(
    ctx: ProbeContext, name: str, observations: dict[str, Any], closed: str | None = None
) -> Iterator[None]:
    """One timed step; its failure becomes a ProbeError carrying what was observed so far."""
    with ctx.step(name):
        try:
            yield
        except ProbeError as exc:
            exc.observations = {**observations, **exc.observations}
            raise
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _failure(exc, name, closed or f"during {name}", observations) from exc


def _failure(
    exc: aiosmtplib.SMTPException | OSError, step: str, when: str, observations: dict[str, Any]
) -> ProbeError:
    label = "banner" if step == "connect" else step
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return ProbeError(ErrorClass.AUTH, f"login rejected: {_reply(exc)}", observations)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code == aiosmtplib.SMTPStatus.invalid_response:  # not SMTP: an HTTP server, say
            return ProbeError(
                ErrorClass.PROTOCOL, f"{label}: {_shorten(exc.message)}", observations
            )
        return ProbeError(ErrorClass.UNEXPECTED_RESPONSE, f"{label}: {_reply(exc)}", observations)
    chain = list(causes(exc))
    # A TLS alert also ends the connection: it is the better reason.
    if any(isinstance(c, aiosmtplib.SMTPServerDisconnected) for c in chain) and not any(
        isinstance(c, ssl.SSLError) for c in chain
    ):
        return ProbeError(ErrorClass.PROTOCOL, f"server closed the connection {when}", observations)
    found = classify_network_error(exc)
    if found is not None:
        return ProbeError(found.error_class, found.detail, observations)
    return ProbeError(ErrorClass.PROTOCOL, f"{label}: {exc}", observations)


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {_shorten(exc.message)}".strip()


def _shorten(text: str) -> str:
    """One line, at most BANNER_LENGTH characters: servers write what they like here."""
    return shorten(text, BANNER_LENGTH)


def _extensions(client: aiosmtplib.SMTP) -> list[str]:
    return sorted(keyword.upper() for keyword in client.esmtp_extensions)


def _tls_observations(client: aiosmtplib.SMTP) -> dict[str, Any]:
    # The transport is gone when the server hung up at once; that shows at the next step.
    transport = client.transport
    return tls.observe(transport.get_extra_info("ssl_object")) if transport else {}
